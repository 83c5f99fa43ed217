"""Pacing the store metrics' availability pass, so it never starves the event loop."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from agent.indicators.compute import TimelineSource
from agent.records import Transition


class Stopped(BaseException):
    """The collector stopped during a paced pass: abandon it (not an error)."""


class Paced:
    """The per-service timeline reads of the availability pass, paced: after every few
    milliseconds of this thread's CPU it sleeps, so the pass uses at most `share` of the wall
    time. The pass is CPU-bound Python in a thread: unpaced, it holds the GIL for up to 5 ms
    at every switch, and the event loop (probes, scrapes) waits that long for each wake-up."""

    SLICE = 0.005  # seconds of CPU between pauses

    def __init__(self, source: TimelineSource, share: float, stopped: threading.Event) -> None:
        self._store, self._share = source, min(1.0, max(0.01, share))
        self._stopped = stopped
        self._mark = time.thread_time()

    def _pace(self) -> None:
        used = time.thread_time() - self._mark
        if used >= self.SLICE:
            if self._stopped.wait(used * (1.0 - self._share) / self._share):
                raise Stopped
            self._mark = time.thread_time()

    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]:
        self._pace()
        return self._store.transitions(service, start, end)

    def unknown_intervals(
        self, service: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        self._pace()
        return self._store.unknown_intervals(service, start, end)
