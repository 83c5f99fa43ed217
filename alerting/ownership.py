"""Which partitions this node owns, as alerting needs to know it (several core nodes,
semantics.md §9). The agent's cluster member provides it (agent/cluster/alert_ownership.py);
on a single node there is none, and every alert is this node's.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection


class PartitionsLost(Exception):
    """The fence refused: this node no longer holds these partitions, so the transaction it
    guarded must not commit; their new owner carries their alerts on."""

    def __init__(self, partitions: tuple[int, ...]) -> None:
        self.partitions = partitions
        super().__init__(f"partition(s) {', '.join(map(str, partitions))} no longer held")


class Ownership(Protocol):
    def partition_of(self, service: str) -> int:
        """The partition a service belongs to."""
        ...

    def owned(self) -> set[int]:
        """The partitions whose state this node has loaded and still holds."""
        ...

    def holds(self, partition: int) -> bool:
        """Whether this node's lease on `partition` is still valid (loaded or not yet)."""
        ...

    def held(self) -> set[int]:
        """Every partition this node's leases still hold."""
        ...

    def fence(self, conn: Connection, partitions: set[int]) -> None:
        """Run first in a transaction that writes these partitions' rows: raises
        `PartitionsLost` unless this node holds every one of them until the commit."""
        ...
