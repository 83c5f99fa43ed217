"""The month-to-date figures, computed by one owner (the store metrics' paced availability pass)
and read by every view that shows them: the console board, the API's indicators endpoint and
/metrics. Readers never compute; they take the latest published result."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.indicators.documents import to_json
from agent.indicators.figures import Indicators
from agent.indicators.quar import assess
from agent.indicators.quar_config import QuarConfig
from checks.clock import Clock

WAIT_STEP = 0.05  # seconds between looks while a first reader waits for the first result


def indicators_json(computed: Indicators, quar: QuarConfig) -> dict[str, Any]:
    """The indicators JSON with a `quar` block of grades."""
    out = to_json(computed)
    assessment = assess(computed.values(), quar)
    out["quar"] = {
        key: {
            "result": g.result,
            "grade": g.grade.value if g.grade else None,
            "tr": g.tr,
            "target": g.target.target,
            "tolerance": g.target.tolerance,
            "unit": g.target.unit,
        }
        for key, g in assessment.indicators.items()
    }
    objective = assessment.objective
    out["quar"]["objective"] = {
        "name": objective.name,
        "tr": objective.tr,
        "grade": objective.grade.value if objective.grade else None,
    }
    return out


@dataclass(frozen=True, slots=True)
class Published:
    figures: dict[str, Any]
    version: int
    at: datetime  # the instant the figures were computed for


class MonthToDate:
    """The latest month-to-date figures; published from the computing thread, read anywhere."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: Published | None = None

    def publish(self, figures: dict[str, Any], at: datetime) -> None:
        with self._lock:
            version = 1 if self._latest is None else self._latest.version + 1
            self._latest = Published(figures, version, at)

    def latest(self) -> Published | None:
        return self._latest

    def current(self) -> dict[str, Any] | None:
        """The latest figures (None until the first computation ends)."""
        latest = self._latest
        return None if latest is None else latest.figures

    @property
    def version(self) -> int:
        latest = self._latest
        return 0 if latest is None else latest.version

    def age(self) -> float | None:
        """Seconds since the instant the latest figures were computed for."""
        latest = self._latest
        if latest is None:
            return None
        return (self._clock.now() - latest.at).total_seconds()

    async def wait_briefly(self, seconds: float = 0.3) -> dict[str, Any] | None:
        """Figures for a first render if they come quickly; the live update brings them later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._latest is None and loop.time() < deadline:
            await asyncio.sleep(min(WAIT_STEP, max(0.0, deadline - loop.time())))
        return self.current()
