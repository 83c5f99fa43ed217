"""`GET /api/v1/cluster`: the core nodes, the partitions, their owners, epochs and leases
(semantics.md §9), read from the database by whichever node answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from agent.api.context import Viewer, agent_of, blocking, sql_store
from agent.cluster import lease
from agent.store.sql import SqlStore

router = APIRouter(tags=["cluster"])


@router.get("/cluster", responses={404: {}})
async def cluster_status(request: Request, _: Viewer) -> dict[str, Any]:
    """Nodes (live, seconds since seen) and partitions (holder, epoch, seconds left on the
    lease, negative when expired), in database time; 404 on a single node."""
    agent = agent_of(request)
    if agent.cluster is None:
        raise HTTPException(404, "this agent runs as a single node (no cluster: settings)")
    found = await blocking(_status, sql_store(agent))
    live_within = agent.cluster.member.config.lease_seconds
    for node in found["nodes"]:
        node["live"] = node["seen_seconds_ago"] < live_within
        node["started_at"] = node["started_at"].isoformat()
        node["last_seen"] = node["last_seen"].isoformat()
    found["this_node"] = agent.cluster.member.config.node
    found["owned"] = sorted(agent.cluster.member.owned_valid())
    return found


def _status(store: SqlStore) -> dict[str, Any]:
    with store.transaction() as conn:
        return dict(lease.status(conn))
