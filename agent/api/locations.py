"""The probe locations as the core sees them: last batch, clock offset, worker version,
counts, whether the location is down (silent), and where it fails below the quorum (§8)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from agent.api.context import Viewer, agent_of
from agent.locations.overview import location_rows

router = APIRouter(tags=["locations"])


class LocationOut(BaseModel):
    name: str
    last_seen: datetime | None
    clock_offset_seconds: float | None
    worker_version: str
    spool_depth: int | None  # results waiting in the worker's spool at its newest batch
    results: int
    duplicates: int
    dropped: int
    rejected_batches: int
    down: bool  # no batch for 2 x interval + timeout (LocationDown)
    checks: int  # checks it runs
    failing_below_quorum: list[str]  # checks hard DOWN here but not at the quorum


@router.get("/locations", response_model=list[LocationOut])
async def list_locations(request: Request, _: Viewer) -> list[LocationOut]:
    agent = agent_of(request)
    rows = location_rows(
        agent.catalog, agent.locations, agent.engine.failing_locations, agent.clock.now()
    )
    return [
        LocationOut(
            name=row.name,
            last_seen=row.last_seen,
            clock_offset_seconds=row.clock_offset,
            worker_version=row.version,
            spool_depth=row.spool_depth,
            results=row.results,
            duplicates=row.duplicates,
            dropped=row.dropped,
            rejected_batches=row.rejected,
            down=row.down,
            checks=row.checks,
            failing_below_quorum=list(row.failing_below_quorum),
        )
        for row in rows
    ]
