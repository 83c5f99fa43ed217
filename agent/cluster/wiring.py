"""What the running agent does as a cluster node (semantics.md §9), apart from one node's work.

- Gaining partitions: their services' state is read from the database as a restart reads it
  (`Engine.adopt`), their active alerts too, and the firing ones are resent to Alertmanager.
- Losing them: the engine and the evaluator forget those services (`Engine.forget`).
- Pending results: results this node took for partitions it did not own wait in the database
  (`ResultPending`); the owner drains them here, oldest probe first, and deletes each in the
  fenced transaction that records what it caused (`PendingConsumed`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from agent.catalog.model import LOCAL
from agent.cluster.health import ClusterHealth, read_health
from agent.cluster.lease import LeaseConfig
from agent.cluster.member import ClusterMember
from agent.records import Effect, PendingConsumed
from agent.settings import Settings, split_host_port
from alerting.conditions import (
    CLUSTER_JUDGE,
    CLUSTER_LEASE,
    CLUSTER_NODE_DOWN_PREFIX,
    PARTITION_UNOWNED_PREFIX,
)
from checks.result import ProbeResult

if TYPE_CHECKING:
    from agent.agent_view import AgentView

log = logging.getLogger(__name__)

DRAIN_EVERY_SECONDS = 1.0
DRAIN_BATCH = 2000
CLUSTER_HEALTH_EVERY_SECONDS = 5.0  # the cluster rules' signals: as often as the alert tick
JUDGE_PARTITION = 0  # its holder judges ClusterNodeDown and PartitionUnowned


def lease_config(settings: Settings, version: str = "") -> LeaseConfig | None:
    """The cluster settings as the lease code takes them; None for a single node."""
    cluster = settings.cluster
    if cluster is None:
        return None
    node = cluster.node or default_node_name(settings.listen)
    return LeaseConfig(node, cluster.partitions, cluster.lease_seconds, version)


def default_node_name(listen: str) -> str:
    """This host and the port it listens on: unique per node, stable across restarts."""
    _host, port = split_host_port(listen)
    return f"{socket.gethostname()}:{port}"


class ClusterNode:
    """The agent's side of `ClusterMember`: what gaining and losing partitions change."""

    def __init__(self, agent: AgentView, config: LeaseConfig) -> None:
        self.agent = agent
        self.member = ClusterMember(
            agent.store.secret_url(), config, agent.catalog, self._gain, self._lose
        )
        self.drained_total = 0
        self.health: ClusterHealth | None = None  # read while this node holds partition 0

    async def start(self) -> None:
        await self.member.start()

    async def stop(self) -> None:
        await self.member.stop()

    def mine(self, effects: list[Effect]) -> list[Effect]:
        """The effects of services this node owns (shutdown and reload emit every service)."""
        fencing = self.member.fencing
        owned = self.member.owned_valid()
        return [e for e in effects if fencing.partitions_of([e]) <= owned]

    async def _gain(self, gained: dict[int, list[str]]) -> None:
        agent = self.agent
        services = [s for names in gained.values() for s in names]
        snapshot = await asyncio.to_thread(agent.store.load_snapshot)
        agent.engine.adopt(snapshot, services)
        for sid in services:
            agent.metrics.set_service(agent.catalog, agent.engine.service_status(sid))
        await agent.alerting.adopt(set(gained), services)

    def _lose(self, lost: dict[int, list[str]]) -> None:
        services = [s for names in lost.values() for s in names]
        self.agent.engine.forget(services)
        self.agent.alerting.forget(set(lost), services)

    # ---- the cluster's own health (ClusterNodeDown, PartitionUnowned) ----------------------

    @property
    def writer_retry_max(self) -> float:
        """The longest wait of the store writer between two failed commits: the renewer's
        pace. A node's leases outlive a database outage (the renewer reclaims as soon as it is
        back), so a writer backing off up to its single-node 30 s would leave the partitions
        held but unwritten for that long, and a clean stop waiting for it."""
        return self.member.config.lease_seconds / 3

    @property
    def health_every(self) -> float:
        return min(CLUSTER_HEALTH_EVERY_SECONDS, self.member.config.lease_seconds / 2)

    async def refresh_health(self) -> None:
        """Read the nodes' heartbeats and the leases, on the one node that judges them."""
        if JUDGE_PARTITION not in self.member.owned_valid():
            self.health = None
            return
        try:
            self.health = await asyncio.to_thread(self._read_health)
        except SQLAlchemyError as exc:  # the renewer gives partition 0 up if this lasts
            log.warning("could not read the cluster's health: %s", type(exc).__name__)

    def _read_health(self) -> ClusterHealth:
        with self.agent.store.transaction() as conn:
            return read_health(conn, self.member.config)

    def signals(self) -> dict[str, float]:
        """The cluster rules' signals (alerting/conditions.py), on the judging node only."""
        health = self.health
        if health is None or JUDGE_PARTITION not in self.member.owned_valid():
            return {}
        return {
            CLUSTER_JUDGE: 1.0,
            CLUSTER_LEASE: health.lease_seconds,
            "cluster_nodes_down": float(len(health.nodes_down)),
            "partitions_unowned": float(len(health.partitions_unowned)),
            **{f"{CLUSTER_NODE_DOWN_PREFIX}{n}": 1.0 for n in health.nodes_down},
            **{f"{PARTITION_UNOWNED_PREFIX}{p}": 1.0 for p in health.partitions_unowned},
        }

    # ---- pending results ----------------------------------------------------------------

    async def drain_pending(self) -> None:
        owned = self.member.owned_valid()
        if not owned:
            return
        store = self.agent.store
        rows = await asyncio.to_thread(store.pending_results, owned, DRAIN_BATCH)
        if not rows:
            return
        stored = await asyncio.to_thread(_stored_already, self.agent, rows)
        seen: set[tuple[str, str, object]] = set()
        for row_id, location, result in rows:
            if not self.member.owns(result.service):
                continue  # lost meanwhile: the new owner drains it
            key = (result.check, location, result.started_at)
            consumed = PendingConsumed(result.service, (row_id,))
            if key in stored or key in seen:  # resent by a worker, or stored before a crash
                self.agent.writer.submit([consumed])
                continue
            seen.add(key)
            self.agent.judge(result, location, extra=[consumed])
            self.drained_total += 1
        await self.agent.writer.drain()  # the next read must not see these rows again


def _stored_already(
    agent: AgentView, rows: list[tuple[int, str, ProbeResult]]
) -> set[tuple[str, str, object]]:
    by_location: dict[str, list[tuple[str, object]]] = {}
    for _row_id, location, result in rows:
        by_location.setdefault(location or LOCAL, []).append((result.check, result.started_at))
    found: set[tuple[str, str, object]] = set()
    for location, keys in by_location.items():
        held = agent.store.held_results(location, keys)  # type: ignore[arg-type]
        found |= {(check, location, at) for check, at in held}
    return found
