"""The probe locations as the core sees them: last batch, clock offset, worker version,
counts, whether the location is down (silent), and where it fails below the quorum (§8)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from agent.api.context import Viewer, agent_of
from agent.catalog.model import LOCAL
from agent.locations.book import silence_limits

router = APIRouter(tags=["locations"])


class LocationOut(BaseModel):
    name: str
    last_seen: datetime | None
    clock_offset_seconds: float | None
    worker_version: str
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
    catalog, book = agent.catalog, agent.locations
    limits = silence_limits(catalog)
    down = set(book.down(agent.clock.now(), limits))
    failing: dict[str, list[str]] = {}
    for check in catalog.checks.values():
        for name in agent.engine.failing_locations(check.id):
            failing.setdefault(name, []).append(check.id)
    out = []
    for name, seen in book.seen.items():
        runs = sum(1 for c in catalog.checks.values() if name in c.locations)
        out.append(
            LocationOut(
                name=name,
                last_seen=seen.last_seen,
                clock_offset_seconds=seen.clock_offset,
                worker_version=seen.version,
                results=seen.results,
                duplicates=seen.duplicates,
                dropped=seen.dropped,
                rejected_batches=seen.rejected,
                down=name in down and name != LOCAL,
                checks=runs,
                failing_below_quorum=sorted(failing.get(name, [])),
            )
        )
    return out
