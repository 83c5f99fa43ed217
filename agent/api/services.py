"""Services and checks with their live state and last results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import desc, select

from agent.agent_view import live_calendar
from agent.api.context import Board, Viewer, agent_of, blocking, live, sql_store
from agent.operations.models import CheckOut, LastResult, ServiceDetail, ServiceOut, State
from agent.operations.views import check_out, last_result, latest_results, service_out
from agent.store import schema
from agent.store.base import StoredResult
from agent.store.rows import stored_result_from_row
from agent.store.sql import SqlStore

router = APIRouter(tags=["services"])


@router.get("/services", response_model=list[ServiceOut])
async def list_services(
    request: Request,
    _: Board,
    tier: str | None = None,
    macro_service: str | None = None,
    state: State | None = None,
) -> list[ServiceOut]:
    """Every catalogue service with its live state, in catalogue order."""
    agent = agent_of(request)
    view, now = await live(agent), agent.clock.now()
    calendar = live_calendar(agent)
    out = [
        service_out(s, view, now, calendar)
        for s in agent.catalog.services
        if tier in (None, s.tier) and macro_service in (None, s.macro_service)
    ]
    return [s for s in out if state in (None, s.state)]


@router.get("/services/{service_id}", response_model=ServiceDetail, responses={404: {}})
async def get_service(request: Request, _: Viewer, service_id: str) -> ServiceDetail:
    """One service with its checks, their hard states and last results."""
    agent = agent_of(request)
    service = agent.catalog.by_id.get(service_id)
    if service is None:
        raise HTTPException(404, f"service {service_id!r} is not in the catalogue")
    view = await live(agent)
    last = await blocking(latest_results, sql_store(agent), service.checks, view)
    base = service_out(service, view, agent.clock.now(), live_calendar(agent))
    checks = [
        check_out(c, view.check(c.id), last.get(c.id), view.locations(c.id)) for c in service.checks
    ]
    return ServiceDetail(**base.model_dump(), depends_on=list(service.depends_on), checks=checks)


@router.get("/services/{service_id}/checks", response_model=list[CheckOut], responses={404: {}})
async def service_checks(request: Request, _: Viewer, service_id: str) -> list[CheckOut]:
    detail = await get_service(request, _, service_id)
    return detail.checks


@router.get("/services/{service_id}/results", response_model=list[LastResult], responses={404: {}})
async def service_results(
    request: Request,
    _: Viewer,
    service_id: str,
    check: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LastResult]:
    """The newest raw probe results of the service (or one of its checks by name), newest first."""
    agent = agent_of(request)
    service = agent.catalog.by_id.get(service_id)
    if service is None:
        raise HTTPException(404, f"service {service_id!r} is not in the catalogue")
    check_id = f"{service_id}/{check}" if check else None
    store = sql_store(agent)
    rows = await blocking(_newest, store, service_id, check_id, limit)
    return [last_result(r) for r in rows]


def _newest(store: SqlStore, service: str, check: str | None, limit: int) -> list[StoredResult]:
    table = schema.probe_results
    query = select(table).where(table.c.service == service)
    if check is not None:
        query = query.where(table.c.check == check)
    query = query.order_by(desc(table.c.started_at)).limit(limit)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    return [stored_result_from_row(row) for row in rows]
