"""The fence of the engine's store transactions: which partitions a batch of effects touches,
and the check that this node still holds each of them with its epoch (`lease.assert_leases`).

Results kept for another partition's owner (`ResultPending`) touch no partition: any node may
store them. Each fenced commit also bumps the audit row of its (partition, epoch) in
`partition_commits` (database time), which proves afterwards that no epoch committed after
the next one began.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from agent.cluster import lease
from agent.cluster.errors import LeaseLostError
from agent.cluster.holdings import Holdings
from agent.cluster.partitions import partition_of
from agent.records import (
    CheckStatusSaved,
    Effect,
    IncidentSaved,
    LocationStateSaved,
    ResultPending,
    ResultRecorded,
    ResultsDropped,
    ServiceStatusSaved,
)
from agent.store import schema as t

Fence = Callable[[Connection], None]


def service_of(effect: Effect) -> str:
    """The service whose state an effect writes (every effect belongs to exactly one)."""
    match effect:
        case ResultRecorded(result=result) | ResultPending(result=result):
            return result.service
        case IncidentSaved(incident=incident):
            return incident.service
        case CheckStatusSaved(status=status) | ServiceStatusSaved(status=status):
            return status.service
        case LocationStateSaved(state=state):
            return state.service
        case ResultsDropped(service=service):
            return service
        case _:
            return str(effect.service)


class Fencing:
    """Builds, for a batch, the fence its transaction runs first."""

    def __init__(self, node: str, partitions: int, holdings: Holdings) -> None:
        self.node = node
        self.partitions = partitions
        self.holdings = holdings

    def partition_of(self, service: str) -> int:
        return partition_of(service, self.partitions)

    def partitions_of(self, effects: Iterable[Effect]) -> set[int]:
        return {
            partition_of(service_of(e), self.partitions)
            for e in effects
            if not isinstance(e, ResultPending)
        }

    def fence_for(self, effects: Iterable[Effect]) -> Fence:
        """The check for `effects`; raises `LeaseLostError` at once for a partition this node
        no longer holds locally (no need to ask the database)."""
        touched = self.partitions_of(effects)
        held = {p: self.holdings.epoch(p) for p in touched}
        gone = tuple(sorted(p for p, epoch in held.items() if epoch is None))
        if gone:
            raise LeaseLostError(gone, self.node, tuple(-1 for _ in gone))
        epochs = {p: e for p, e in held.items() if e is not None}

        def fence(conn: Connection) -> None:
            lease.assert_leases(conn, self.node, epochs)
            audit(conn, self.node, epochs)

        return fence


def audit(conn: Connection, node: str, epochs: dict[int, int]) -> None:
    """One more commit of each (partition, epoch), at database time."""
    if not epochs:
        return
    table = t.partition_commits
    rows = [
        {"partition": p, "epoch": e, "node": node, "first_at": lease.DB_NOW,
         "last_at": lease.DB_NOW, "batches": 1}
        for p, e in sorted(epochs.items())
    ]  # fmt: skip
    stmt = postgresql.insert(table).values(rows)  # multi-VALUES: each row reads the clock
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.partition, table.c.epoch],
            set_={"last_at": lease.DB_NOW, "batches": table.c.batches + 1},
        )
    )
