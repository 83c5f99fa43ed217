"""The cluster member as alerting sees it (`alerting.ownership.Ownership`): which partitions
this node owns, and the fence of a transaction that writes alerts and notifications."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from agent.cluster import lease
from agent.cluster.errors import LeaseLostError
from agent.cluster.member import ClusterMember
from alerting.ownership import PartitionsLost


@dataclass(frozen=True, slots=True)
class AlertOwnership:
    member: ClusterMember

    def partition_of(self, service: str) -> int:
        return self.member.partition_of(service)

    def owned(self) -> set[int]:
        return self.member.owned_valid()

    def holds(self, partition: int) -> bool:
        return self.member.holdings.epoch(partition) is not None

    def held(self) -> set[int]:
        return set(self.member.holdings.valid())

    def fence(self, conn: Connection, partitions: set[int]) -> None:
        """A partition already lost locally is refused without asking the database."""
        epochs = {p: self.member.holdings.epoch(p) for p in partitions}
        gone = tuple(sorted(p for p, e in epochs.items() if e is None))
        if gone:
            raise PartitionsLost(gone)
        held = {p: e for p, e in epochs.items() if e is not None}
        try:
            lease.assert_leases(conn, self.member.config.node, held)
        except LeaseLostError as lost:
            raise PartitionsLost(lost.partitions) from lost
