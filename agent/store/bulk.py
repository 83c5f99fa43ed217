"""Timelines of every service read in two queries, for passes over thousands of services
(the monthly report, the store-derived metrics).

`Store.transitions` and `Store.unknown_intervals` answer one service at a time, which costs a
round trip each: about 4 s per 10,000 services on SQLite. `PrefetchedTimelines` reads the rows of
all services over [start, end) at once through `SqlStore.transaction` (the store's door for
ad-hoc queries) and answers any range inside it with exactly the Store's semantics; a range
reaching outside goes to the store.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, func, select

from agent.records import Transition
from agent.store import schema as t
from agent.store.rows import transition_from_row
from agent.store.sql import SqlStore

Interval = tuple[datetime, datetime]


class PrefetchedTimelines:
    def __init__(self, store: SqlStore, start: datetime, end: datetime) -> None:
        self._store, self._start, self._end = store, start, end
        self._transitions: dict[str, list[Transition]] = defaultdict(list)
        self._unknown: dict[str, list[Interval]] = defaultdict(list)
        with store.transaction() as conn:
            self._read_transitions(conn)
            self._read_unknown(conn)

    def _read_transitions(self, conn: Connection) -> None:
        table = t.transitions
        latest = (
            select(table.c.service, func.max(table.c.at).label("at"))
            .where(table.c.at < self._start)
            .group_by(table.c.service)
            .subquery()
        )
        before = select(table).join(
            latest, (table.c.service == latest.c.service) & (table.c.at == latest.c.at)
        )
        inside = select(table).where(table.c.at >= self._start, table.c.at < self._end)
        for query in (before, inside.order_by(table.c.service, table.c.at)):
            for row in conn.execute(query).mappings():
                self._transitions[row["service"]].append(transition_from_row(row))

    def _read_unknown(self, conn: Connection) -> None:
        table = t.unknown_intervals
        query = (
            select(table.c.service, table.c.start, table.c.end)
            .where(table.c.start < self._end, table.c.end > self._start)
            .order_by(table.c.service, table.c.start, table.c.end)
        )
        for row in conn.execute(query).mappings():
            self._unknown[row["service"]].append((row["start"], row["end"]))

    def _covers(self, start: datetime, end: datetime) -> bool:
        return self._start <= start and end <= self._end

    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]:
        if not self._covers(start, end):
            return self._store.transitions(service, start, end)
        # Sorted by time: the last one before our start, then every one inside our range.
        rows = self._transitions.get(service, ())
        before = [row for row in rows if row.at < start][-1:]
        return before + [row for row in rows if start <= row.at < end]

    def unknown_intervals(self, service: str, start: datetime, end: datetime) -> list[Interval]:
        if not self._covers(start, end):
            return self._store.unknown_intervals(service, start, end)
        return [(a, b) for a, b in self._unknown.get(service, ()) if a < end and b > start]
