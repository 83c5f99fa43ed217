"""The period a reader asks for, and the indicators graded against the QUAR for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.agent_view import AgentView, calendar_now
from agent.indicators.compute import compute_indicators
from agent.indicators.periods import Period, parse_period, period_from_range
from agent.indicators.quar_config import DEFAULT_QUAR, QuarConfig, load_quar
from agent.month_to_date import indicators_json
from agent.operations.errors import Invalid


def choose_period(
    agent: AgentView, period: str | None, start: str | None, end: str | None
) -> Period:
    """A named period, a [from, to) range or the current month; Invalid says what is allowed."""
    tz = agent.settings.timezone
    try:
        if period:
            return parse_period(period, tz)
        if start and end:
            return period_from_range(start, end, tz)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if start or end:
        raise Invalid("give both from and to, or a period")
    return current_month(agent)


def current_month(agent: AgentView) -> Period:
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
