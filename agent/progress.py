"""Progress of a long command (a report over a big estate, a big catalogue) on stderr.

Shown only where a person watches: when stderr is a terminal. Piped or redirected, the
command stays quiet, so scripts and cron mail see only its output and its errors.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Numbered steps of one command, then the time the whole took."""

    def __init__(
        self,
        what: str,
        steps: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.shown = self.stream.isatty()
        self._what, self._steps, self._clock = what, steps, clock
        self._done = 0
        self._started = clock()

    def step(self, text: str) -> None:
        """Say that the next step starts."""
        self._done += 1
        self._write(f"{self._what} [{self._done}/{self._steps}] {text}…")

    def finish(self, text: str = "done") -> None:
        self._write(f"{self._what}: {text} in {self._clock() - self._started:.1f} s")

    def _write(self, line: str) -> None:
        if self.shown:
            self.stream.write(f"vigia: {line}\n")
            self.stream.flush()
