"""Map the loop's monotonic clock to the wall clock, and notice when the wall clock steps.

The scheduler times everything on `loop.time()` (monotonic: NTP steps and `date -s` do not
move it) and asks this watch for the wall instant of a loop instant only to stamp due times.
Once a second the watch compares wall and monotonic elapsed time: a difference over
STEP_THRESHOLD is a step (either direction), reported once and then absorbed by re-basing,
so the next stamps follow the new wall clock while the ticks keep their monotonic cadence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.clock import Clock

STEP_THRESHOLD = 2.0  # seconds of wall-vs-monotonic difference within one check: a step
WATCH_EVERY = 1.0  # seconds between comparisons
REBASE_OVER = 0.05  # seconds: smaller drift (NTP slewing) is left for the next comparison


@dataclass(frozen=True, slots=True)
class ClockStep:
    at: datetime  # the wall time after the step
    seconds: float  # positive: the wall clock jumped forward


class ClockWatch:
    def __init__(self, clock: Clock, on_step: Callable[[ClockStep], None]) -> None:
        self._clock = clock
        self._on_step = on_step
        self.loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._rebase()

    def _rebase(self) -> None:
        self._mono_base = self.loop.time()
        self._wall_base = self._clock.now()

    def wall(self, mono: float) -> datetime:
        """The wall instant of a loop instant, on the current base."""
        return self._wall_base + timedelta(seconds=mono - self._mono_base)

    def mono(self, wall: datetime) -> float:
        """The loop instant of a wall instant, on the current base."""
        return self._mono_base + (wall - self._wall_base).total_seconds()

    def start(self) -> None:
        self._timer = self.loop.call_at(self.loop.time() + WATCH_EVERY, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def check(self) -> ClockStep | None:
        """Compare the clocks now; a step is reported to `on_step` and returned."""
        now = self._clock.now()
        drift = (now - self.wall(self.loop.time())).total_seconds()
        step = ClockStep(now, drift) if abs(drift) > STEP_THRESHOLD else None
        if abs(drift) > REBASE_OVER:
            self._rebase()
        if step is not None:
            self._on_step(step)
        return step

    def _check(self) -> None:
        self._timer = self.loop.call_at(self.loop.time() + WATCH_EVERY, self._check)
        self.check()
