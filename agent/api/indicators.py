"""Availability, Ind.3, Ind.4 and coverage for a period, graded against the QUAR."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from agent.agent_view import AgentView, calendar_now
from agent.api.context import Viewer, agent_of, blocking
from agent.indicators.compute import compute_indicators
from agent.indicators.periods import Period, parse_period, period_from_range
from agent.indicators.quar_config import DEFAULT_QUAR, QuarConfig, load_quar
from agent.month_to_date import indicators_json

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
    shared = agent.month_to_date.current()
    if shared is not None and not (period or start or end):
        return shared  # the month to date, as computed for /metrics and the board
    try:
        chosen = choose_period(agent, period, start, end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return await blocking(figures, agent, chosen, agent.clock.now())


def choose_period(
    agent: AgentView, period: str | None, start: str | None, end: str | None
) -> Period:
    tz = agent.settings.timezone
    if period:
        return parse_period(period, tz)
    if start and end:
        return period_from_range(start, end, tz)
    if start or end:
        raise ValueError("give both from and to, or a period")
    return current_month(agent)


def current_month(agent: AgentView) -> Period:
    from zoneinfo import ZoneInfo

    local = agent.clock.now().astimezone(ZoneInfo(agent.settings.timezone))
    return parse_period(f"{local.year:04d}-{local.month:02d}", agent.settings.timezone)


def quar_config(agent: AgentView) -> QuarConfig:
    path = agent.settings.quar
    return load_quar(path) if path is not None else DEFAULT_QUAR


def figures(agent: AgentView, period: Period, now: datetime) -> dict[str, Any]:
    """Blocking: the indicators JSON with a `quar` block of grades."""
    calendar = calendar_now(agent)
    computed = compute_indicators(agent.store, agent.catalog, calendar, period, now)
    return indicators_json(computed, quar_config(agent))
