"""Availability, Ind.3, Ind.4 and coverage for a period, graded against the QUAR."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from agent.api.context import Viewer, agent_of, blocking
from agent.operations.indicators import choose_period, current_month, figures

# current_month and figures live in agent.operations.indicators; bench/console.py still
# imports them from here
__all__ = ["current_month", "figures", "indicators", "router"]

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
    chosen = choose_period(agent, period, start, end)
    return await blocking(figures, agent, chosen, agent.clock.now())
