"""Heartbeat checks: the monitored job calls in; authenticated by the check's own token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from agent.api.context import agent_of, bearer, blocking, sql_store
from agent.operations.models import BeatOut
from checks.specs import HeartbeatSpec

router = APIRouter(tags=["heartbeat"])


@router.post("/heartbeat/{service}/{check}", response_model=BeatOut, responses={401: {}, 404: {}})
async def beat(
    request: Request,
    service: str,
    check: str,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[
        str | None, Query(description="the check's token (or a bearer header)")
    ] = None,
) -> BeatOut:
    """Record a beat for a `heartbeat` check now. Its token is the check's, not an API token."""
    agent = agent_of(request)
    check_id = f"{service}/{check}"
    found = agent.catalog.checks.get(check_id)
    if found is None or not isinstance(found.spec, HeartbeatSpec):
        raise HTTPException(404, f"no heartbeat check {check_id!r}")
    presented = credentials.credentials if credentials else token
    book = agent.probes.heartbeats
    if not book.check_token(check_id, presented, found.spec):
        raise HTTPException(401, "wrong or missing heartbeat token")
    at = book.beat(check_id)
    # in the database too: the check's owner may be another node (semantics.md §9), and a
    # restart must not forget the beat
    await blocking(sql_store(agent).record_beat, check_id, at)
    return BeatOut(check=check_id, at=at)
