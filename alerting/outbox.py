"""The alert outbox: every notification is stored, per receiver, before anything is sent.

A row leaves `pending` only when its receiver accepted it (`delivered`) or said retrying is
useless (`failed`). A transient failure pushes `next_attempt_at` back with capped exponential
backoff and jitter; it never drops the row, so a receiver that is down for an hour delays its
notifications by an hour and loses none, across agent restarts too.

Order per alert and receiver: `due` never offers a row while an older pending row of the same
alert for the same receiver is waiting for a retry, so a `resolved` cannot overtake its `firing`.

Delivery is at least once: a crash between a receiver's answer and `mark_delivered` sends the
row again after the restart (Alertmanager and the webhook's `alert_id` make that harmless).

Every method is blocking SQL: from the event loop, call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from alerting import tables
from alerting.database import Database
from alerting.notification import Notification

_TABLE = tables.outbox
_ERROR_MAX = 2000  # characters of a receiver's error kept in `last_error`


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification for one receiver, and how its delivery went."""

    id: int
    receiver: str
    notification: Notification
    state: OutboxState
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    last_error: str
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @property
    def alert_id(self) -> str:
        return self.notification.alert_id


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry n (n = attempts so far, from 1): initial x factor^(n-1), capped,
    then scaled by a random factor in [1 - jitter, 1] so retries of many rows spread out."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2

    def delay(self, attempts: int, draw: float) -> float:
        """`draw` is a uniform random number in [0, 1)."""
        exponent = min(max(attempts - 1, 0), 64)  # 2**64 seconds is past any cap already
        base = min(self.cap, self.initial * self.factor**exponent)
        return base * (1.0 - self.jitter * draw)


# pydantic's compiled codec of the dataclass: datetimes as ISO 8601, enums by value; keys an
# older document has and the class no longer does are ignored, missing ones take defaults
_CODEC = TypeAdapter(Notification)


def encode_notification(notification: Notification) -> dict[str, Any]:
    """The JSON document stored in the outbox (and sent by the webhook receiver)."""
    document: dict[str, Any] = _CODEC.dump_python(notification, mode="json")
    return document


def decode_notification(data: Mapping[str, Any]) -> Notification:
    return _CODEC.validate_python(data)


# Several core nodes (semantics.md §9): the partition of a notification's service (None for
# the agent's own alerts), the fence of the transaction that stores notifications of these
# partitions, and which rows this node sends now (its partitions; None rows too or not).
PartitionOf = Callable[[Notification], int | None]
OutboxFence = Callable[[Connection, set[int]], None]
Scope = Callable[[], tuple[set[int], bool]]
Also = tuple[set[int], Callable[[Connection], None]]  # more to write under the same fence


@dataclass(frozen=True, slots=True)
class Partitioning:
    partition_of: PartitionOf
    fence: OutboxFence
    scope: Scope


class Outbox:
    """The outbox table of the agent's database (schema version 2)."""

    def __init__(
        self,
        store: Database,
        *,
        backoff: Backoff | None = None,
        random_draw: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._backoff = backoff or Backoff()
        self._draw = random_draw
        self.partitioning: Partitioning | None = None  # set on a cluster node

    # ---- writing ----------------------------------------------------------------------------

    def enqueue(
        self, notifications: Sequence[Notification], receivers: Sequence[str], now: datetime
    ) -> int:
        """Store one pending row per (notification, receiver); returns how many were stored."""
        return self.enqueue_routed([(n, receivers) for n in notifications], now)

    def enqueue_routed(
        self,
        routed: Iterable[tuple[Notification, Sequence[str]]],
        now: datetime,
        *,
        also: Also | None = None,
    ) -> int:
        """Like `enqueue`, with each notification's own receivers, in one transaction.
        Rows are numbered in the order given: deliver firing before resolved by passing them
        in that order. `also` writes in the same transaction (the alerts' state, so a node that
        dies after the commit leaves both the notification and "notified" for the next one,
        and one that dies before it leaves neither): (its partitions, what it writes)."""
        split = self.partitioning
        rows = [
            _new_row(
                notification, receiver, now, split.partition_of(notification) if split else None
            )
            for notification, receivers in routed
            for receiver in dict.fromkeys(receivers)  # a receiver listed twice gets one row
        ]
        if not rows:
            return 0
        also_partitions, write_also = also if also is not None else (set(), None)
        with self._store.transaction(write=True) as conn:
            if split is not None:  # only the partitions' owner notifies (§9)
                touched = {r["partition"] for r in rows if r["partition"] is not None}
                split.fence(conn, touched | also_partitions)
            conn.execute(insert(_TABLE), rows)
            if write_also is not None:
                write_also(conn)
        return len(rows)

    def mark_delivered(self, ids: Collection[int], now: datetime) -> None:
        self._finish(ids, OutboxState.DELIVERED, now, delivered_at=now)

    def mark_permanent(self, ids: Collection[int], error: str, now: datetime) -> None:
        """The receiver refused for good: the rows become `failed` and are never retried."""
        self._finish(ids, OutboxState.FAILED, now, last_error=error[:_ERROR_MAX])

    def _finish(
        self, ids: Collection[int], state: OutboxState, now: datetime, **extra: Any
    ) -> None:
        if not ids:
            return
        stmt = (
            update(_TABLE)
            .where(_TABLE.c.id.in_(list(ids)), _TABLE.c.state == OutboxState.PENDING.value)
            .values(state=state.value, attempts=_TABLE.c.attempts + 1, last_attempt_at=now, **extra)
        )
        with self._store.transaction(write=True) as conn:
            conn.execute(stmt)

    def mark_transient(self, ids: Collection[int], error: str, now: datetime) -> None:
        """A failure worth retrying: each row waits longer the more attempts it has had."""
        if not ids:
            return
        with self._store.transaction(write=True) as conn:
            attempts = self._pending_attempts(conn, ids)
            if not attempts:
                return
            rows = [self._retry_row(row_id, tries + 1, now) for row_id, tries in attempts.items()]
            stmt = (
                update(_TABLE)
                .where(_TABLE.c.id == bindparam("row_id"))
                .values(
                    attempts=bindparam("attempts"),
                    next_attempt_at=bindparam("next_at"),
                    last_attempt_at=now,
                    last_error=error[:_ERROR_MAX],
                )
            )
            conn.execute(stmt, rows)

    def _pending_attempts(self, conn: Connection, ids: Collection[int]) -> dict[int, int]:
        query = select(_TABLE.c.id, _TABLE.c.attempts).where(
            _TABLE.c.id.in_(list(ids)), _TABLE.c.state == OutboxState.PENDING.value
        )
        return {row.id: row.attempts for row in conn.execute(query)}

    def _retry_row(self, row_id: int, attempts: int, now: datetime) -> dict[str, Any]:
        wait = self._backoff.delay(attempts, self._draw())
        return {"row_id": row_id, "attempts": attempts, "next_at": now + timedelta(seconds=wait)}

    def prune(self, before: datetime) -> int:
        """Delete delivered and failed rows created before `before`; pending rows stay."""
        stmt = delete(_TABLE).where(
            _TABLE.c.created_at < before, _TABLE.c.state != OutboxState.PENDING.value
        )
        with self._store.transaction(write=True) as conn:
            return int(conn.execute(stmt).rowcount)

    # ---- reading ----------------------------------------------------------------------------

    def due(
        self, now: datetime, limit: int = 100, *, skip_receivers: Collection[str] = ()
    ) -> list[OutboxItem]:
        """Pending rows whose time has come, oldest first, at most `limit`, leaving out rows
        queued behind an older pending row (same alert, same receiver) that is still waiting."""
        earlier = _TABLE.alias("earlier")
        blocked = exists().where(
            earlier.c.receiver == _TABLE.c.receiver,
            earlier.c.alert_id == _TABLE.c.alert_id,
            earlier.c.id < _TABLE.c.id,
            earlier.c.state == OutboxState.PENDING.value,
            earlier.c.next_attempt_at > now,
        )
        query = select(_TABLE).where(
            _TABLE.c.state == OutboxState.PENDING.value,
            _TABLE.c.next_attempt_at <= now,
            ~blocked,
        )
        if skip_receivers:
            query = query.where(_TABLE.c.receiver.not_in(list(skip_receivers)))
        if self.partitioning is not None:
            partitions, unpartitioned = self.partitioning.scope()
            mine = _TABLE.c.partition.in_(sorted(partitions))
            query = query.where(or_(mine, _TABLE.c.partition.is_(None)) if unpartitioned else mine)
        return self._items(query.order_by(_TABLE.c.id).limit(limit))

    def backlog(self) -> int:
        """Rows still pending (queued or waiting for a retry)."""
        query = select(func.count()).where(_TABLE.c.state == OutboxState.PENDING.value)
        with self._store.transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def backlog_by_receiver(self) -> dict[str, int]:
        query = (
            select(_TABLE.c.receiver, func.count())
            .where(_TABLE.c.state == OutboxState.PENDING.value)
            .group_by(_TABLE.c.receiver)
        )
        with self._store.transaction() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}

    def oldest_pending(self) -> datetime | None:
        """When the oldest pending row was queued (delivery lag = now - this)."""
        query = select(func.min(_TABLE.c.created_at)).where(
            _TABLE.c.state == OutboxState.PENDING.value
        )
        with self._store.transaction() as conn:
            value: datetime | None = conn.execute(query).scalar()  # UtcMicros converts it
        return value

    def failed_since(self, since: datetime) -> list[OutboxItem]:
        """Rows that failed for good at or after `since`, oldest first."""
        query = (
            select(_TABLE)
            .where(_TABLE.c.state == OutboxState.FAILED.value, _TABLE.c.last_attempt_at >= since)
            .order_by(_TABLE.c.id)
        )
        return self._items(query)

    def history(self, alert_id: str) -> list[OutboxItem]:
        """Every row of one alert, in the order they were queued: what was sent, to which
        receiver, when, and whether it arrived."""
        query = select(_TABLE).where(_TABLE.c.alert_id == alert_id).order_by(_TABLE.c.id)
        return self._items(query)

    def _items(self, query: Select[Any]) -> list[OutboxItem]:
        with self._store.transaction() as conn:
            return [_item(row._mapping) for row in conn.execute(query)]


def _new_row(
    notification: Notification, receiver: str, now: datetime, partition: int | None = None
) -> dict[str, Any]:
    return {
        "partition": partition,
        "alert_id": notification.alert_id,
        "status": str(notification.status),
        "receiver": receiver,
        "payload": encode_notification(notification),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "state": OutboxState.PENDING.value,
        "last_error": "",
        "last_attempt_at": None,
        "delivered_at": None,
    }


def _item(row: Mapping[Any, Any]) -> OutboxItem:
    return OutboxItem(
        id=int(row["id"]),
        receiver=row["receiver"],
        notification=decode_notification(row["payload"]),
        state=OutboxState(row["state"]),
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        last_attempt_at=row["last_attempt_at"],
        delivered_at=row["delivered_at"],
    )
