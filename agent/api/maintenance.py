"""Ad-hoc maintenance windows: list, declare, cancel (the agent's calendar picks them up)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request

from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.operations import audit
from agent.operations.models import BoundedDatetime, WindowIn, WindowOut
from agent.operations.views import window_out

router = APIRouter(tags=["maintenance"])
WindowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/maintenance", response_model=list[WindowOut])
async def list_windows(
    request: Request,
    _: Viewer,
    service: str | None = None,
    start: Annotated[BoundedDatetime | None, Query(alias="from")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to")] = None,
    include_cancelled: bool = False,
) -> list[WindowOut]:
    """Windows overlapping [from, to), by start."""
    store = sql_store(agent_of(request))
    found = await blocking(
        store.windows, service=service, start=start, end=end, include_cancelled=include_cancelled
    )
    return [window_out(w) for w in found]


@router.post("/maintenance", response_model=WindowOut, status_code=201, responses={422: {}})
async def add_window(request: Request, who: Operator, body: WindowIn) -> WindowOut:
    """Declare a window. Planned if it starts in the future; otherwise retroactive (§5)."""
    agent = agent_of(request)
    if body.service not in agent.catalog.by_id:
        raise HTTPException(422, f"service {body.service!r} is not in the catalogue")
    if body.end <= body.start:
        raise HTTPException(422, "end is not after start")
    store, at = sql_store(agent), agent.clock.now()
    window = await blocking(
        store.add_window, body.service, body.start, body.end, body.reason, who.name, at
    )
    detail = {"service": body.service, "start": body.start.isoformat(), "end": body.end.isoformat()}
    detail["reason"] = body.reason
    await blocking(
        audit.record, store, who, "maintenance.add", f"maintenance/{window.id}", detail, at
    )
    return window_out(window)


@router.post("/maintenance/{window_id}/cancel", response_model=WindowOut, responses={404: {}})
async def cancel_window(request: Request, who: Operator, window_id: WindowId) -> WindowOut:
    agent = agent_of(request)
    store, at = sql_store(agent), agent.clock.now()
    window = await blocking(store.cancel_window, window_id, at)
    if window is None:
        raise HTTPException(404, f"maintenance window {window_id} does not exist")
    await blocking(
        audit.record, store, who, "maintenance.cancel", f"maintenance/{window_id}", {}, at
    )
    return window_out(window)
