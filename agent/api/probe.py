"""The probe workers' side of the API (issue #14): a location's assignment and its results.

Only a `probe` token may call these, and only for its own location; a probe token can call
nothing else (its role is below viewer). A batch is checked whole before anything is stored:
a result for a check or location not the worker's own refuses the batch (403), a worker whose
clock is off by more than `max_clock_offset` is refused (409) and counted, since its
timestamps would move incidents. The acknowledgement is sent once the results are committed,
so the worker may delete from its spool exactly what the core holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request

from agent.access.tokens import Principal, Role
from agent.api.context import Probe, agent_of, blocking, sql_store
from agent.catalog.model import Catalog
from agent.locations.assignment import assignment
from agent.locations.wire import Assignment, BatchAck, DroppedInterval, ResultBatch, WireResult

if TYPE_CHECKING:
    from agent.agent_view import AgentView

router = APIRouter(tags=["probe workers"])


def _own_location(principal: Principal) -> str:
    if principal.role is not Role.PROBE:
        raise HTTPException(403, "only a location's probe token may do this")
    return principal.name


@router.get("/probe/assignment", response_model=Assignment)
async def get_assignment(request: Request, principal: Probe) -> Assignment:
    """The catalogue the caller's location runs, `${NAME}` placeholders unresolved."""
    location = _own_location(principal)
    agent = agent_of(request)
    source = agent.catalog.source or agent.settings.catalog
    try:
        text = await blocking(_read, str(source))
    except OSError:
        raise HTTPException(503, "the catalogue file cannot be read now") from None
    entry = next((e for e in agent.settings.locations if e.name == location), None)
    target = entry.connectivity_check if entry is not None else None
    return assignment(agent.catalog, text, location, target)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


@router.post("/probe/results", response_model=BatchAck, responses={409: {}, 413: {}, 422: {}})
async def post_results(request: Request, batch: ResultBatch, principal: Probe) -> BatchAck:
    location = _own_location(principal)
    agent = agent_of(request)
    if batch.location != location:
        raise HTTPException(403, f"this token is location {location!r}'s, not {batch.location!r}")
    _refuse_foreign(agent.catalog, location, [*batch.results, *batch.dropped])
    now = agent.clock.now()
    offset = (now - batch.worker_clock).total_seconds()
    limit = agent.settings.max_clock_offset
    if abs(offset) > limit:
        agent.locations.refused_for_skew(location, now, offset)
        raise HTTPException(
            409,
            f"the worker's clock is {offset:+.1f} s off the core's (limit {limit:g} s): "
            "fix its time synchronisation (NTP); nothing was stored",
        )
    agent.locations.heard(
        location, now, offset, batch.worker_version, batch.blind, batch.spool_depth
    )
    keys = [(r.check, r.started_at) for r in batch.results]
    held = await blocking(sql_store(agent).held_results, location, keys)
    fresh = _in_time_order([r for r in batch.results if (r.check, r.started_at) not in held])
    for wire in fresh:
        agent.observe(wire.probe_result(), agent.catalog.checks[wire.check].kind, location)
    gaps = await _fresh_gaps(agent, location, batch.dropped)
    for gap in gaps:
        agent.dropped(gap.check, location, gap.start, gap.end, gap.count)
    await agent.writer.drain()
    dropped = sum(d.count for d in gaps)
    agent.locations.received(location, len(fresh), len(batch.results) - len(fresh), dropped)
    return BatchAck(
        accepted=len(fresh),
        duplicates=len(batch.results) - len(fresh),
        clock_offset_seconds=offset,
    )


def _refuse_foreign(
    catalog: Catalog, location: str, results: list[WireResult | DroppedInterval]
) -> None:
    for result in results:
        check = catalog.checks.get(result.check)
        if check is None or location not in check.locations:
            raise HTTPException(
                403, f"check {result.check[:300]!r} is not assigned to location {location!r}"
            )


async def _fresh_gaps(
    agent: AgentView, location: str, gaps: list[DroppedInterval]
) -> list[DroppedInterval]:
    """The dropped intervals not stored yet (a resent batch reports its intervals again)."""
    unique = {(g.check, g.start, g.end): g for g in gaps}
    if not unique:
        return []
    held = await blocking(sql_store(agent).held_dropped, location, list(unique))
    return [gap for key, gap in unique.items() if key not in held]


def _in_time_order(results: list[WireResult]) -> list[WireResult]:
    """One batch may mix checks; each location's results are judged oldest first (§8).
    Within one batch a key sent twice counts once."""
    unique: dict[tuple[str, datetime], WireResult] = {}
    for result in results:
        unique.setdefault((result.check, result.started_at), result)
    return sorted(unique.values(), key=lambda r: r.started_at)
