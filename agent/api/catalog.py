"""The catalogue summary and its reload (admin)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agent.api.context import Admin, Viewer, agent_of, blocking, sql_store
from agent.operations import audit
from agent.operations.models import CatalogOut, ReloadOut

router = APIRouter(tags=["catalogue"])


@router.get("/catalog", response_model=CatalogOut)
async def catalog_summary(request: Request, _: Viewer) -> CatalogOut:
    agent = agent_of(request)
    catalog, status = agent.catalog, agent.reload_status
    services = catalog.services
    return CatalogOut(
        source=str(catalog.source) if catalog.source else None,
        version=catalog.version,
        services=len(services),
        monitored=len(catalog.monitored),
        checks=len(catalog.checks),
        tiers=dict(Counter(s.tier for s in services)),
        macro_services=dict(Counter(s.macro_service for s in services)),
        configured_coverage=100.0 * len(catalog.monitored) / len(services) if services else None,
        reload_ok=status.ok,
        reload_error=status.error,
        reloaded_at=status.at,
    )


@router.post("/reload", response_model=ReloadOut, responses={422: {"model": ReloadOut}})
async def reload_catalog(request: Request, who: Admin) -> JSONResponse:
    """Load and validate the catalogue file again; an invalid one leaves the running one."""
    agent = agent_of(request)
    status = await agent.reload()
    out = ReloadOut(
        ok=status.ok, error=status.error, at=status.at, services=len(agent.catalog.services)
    )
    detail = {"ok": status.ok, "error": status.error[:2000]}
    at = agent.clock.now()
    await blocking(audit.record, sql_store(agent), who, "catalog.reload", "catalog", detail, at)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if status.ok else 422)
