"""Availability, Ind.3, Ind.4 and coverage for a period, graded against the QUAR."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from agent.api.context import Viewer, agent_of, blocking
from agent.indicators import compute_indicators, to_json
from agent.maintenance import MaintenanceCalendar
from agent.periods import Period, parse_period, period_from_range
from agent.quar import assess
from agent.quar_config import DEFAULT_QUAR, QuarConfig, load_quar

if TYPE_CHECKING:
    from agent.runtime import Agent

router = APIRouter(tags=["indicators"])


@router.get("/indicators", response_model=dict[str, Any], responses={422: {}})
async def indicators(
    request: Request,
    _: Viewer,
    period: str | None = Query(default=None, description="2026-10, 2026-Q4 or 2026"),
    start: str | None = Query(default=None, alias="from", description="ISO 8601"),
    end: str | None = Query(default=None, alias="to", description="ISO 8601"),
) -> dict[str, Any]:
    """Figures per service and the QUAR indicators; the current month to date by default."""
    agent = agent_of(request)
    try:
        chosen = choose_period(agent, period, start, end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return await blocking(figures, agent, chosen, agent.clock.now())


def choose_period(agent: Agent, period: str | None, start: str | None, end: str | None) -> Period:
    tz = agent.settings.timezone
    if period:
        return parse_period(period, tz)
    if start and end:
        return period_from_range(start, end, tz)
    if start or end:
        raise ValueError("give both from and to, or a period")
    return current_month(agent)


def current_month(agent: Agent) -> Period:
    from zoneinfo import ZoneInfo

    local = agent.clock.now().astimezone(ZoneInfo(agent.settings.timezone))
    return parse_period(f"{local.year:04d}-{local.month:02d}", agent.settings.timezone)


def quar_config(agent: Agent) -> QuarConfig:
    path = getattr(agent.settings, "quar", None)
    return load_quar(path) if isinstance(path, str) else DEFAULT_QUAR


def figures(agent: Agent, period: Period, now: datetime) -> dict[str, Any]:
    """Blocking: the indicators JSON with a `quar` block of grades."""
    calendar = getattr(agent, "calendar", None)
    if calendar is None:
        calendar = MaintenanceCalendar(
            agent.catalog, agent.store.windows(), agent.settings.allow_retroactive_maintenance
        )
    computed = compute_indicators(agent.store, agent.catalog, calendar, period, now)
    out = to_json(computed)
    assessment = assess(computed.values(), quar_config(agent))
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


class MonthToDate:
    """The board's month-to-date figures, recomputed in the background at most every `ttl`.

    Computing them reads every service's timeline: too slow to do on each live update.
    """

    def __init__(self, agent: Agent, ttl: float = 60.0) -> None:
        self.agent = agent
        self.ttl = ttl
        self.value: dict[str, Any] | None = None
        self._at = -1e18
        self._task: asyncio.Task[None] | None = None

    def current(self) -> dict[str, Any] | None:
        """The latest figures (None until the first computation ends); refreshes if stale."""
        if time.monotonic() - self._at > self.ttl and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        return self.value

    async def _refresh(self) -> None:
        agent = self.agent
        try:
            period = current_month(agent)
            self.value = await blocking(figures, agent, period, agent.clock.now())
        finally:
            self._at = time.monotonic()

    async def wait_briefly(self, seconds: float = 0.3) -> dict[str, Any] | None:
        """Figures for a first render if they come quickly; the live update brings them later."""
        self.current()
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=seconds)
        return self.value
