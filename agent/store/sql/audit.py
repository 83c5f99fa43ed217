"""What the agent records about itself in `SqlStore`: effects the database refused
(quarantined, kept as data), the wall-clock steps it saw, and its own heartbeat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from agent.records import Effect
from agent.store import schema as t
from agent.store.sql.database import SqlDatabase


class AuditRecords(SqlDatabase):
    def quarantine(self, effects: Sequence[Effect], error: str, at: datetime) -> None:
        """Keep effects the database refused as data, with why, instead of retrying them."""
        found = [
            {"at": at, "kind": type(e).__name__, "record": repr(e), "error": error} for e in effects
        ]
        with self.transaction(write=True) as conn:
            conn.execute(insert(t.quarantine), found)

    def quarantined(self) -> list[dict[str, Any]]:
        query = select(t.quarantine).order_by(t.quarantine.c.id)
        return [dict(row) for row in self._fetch(query)]

    def record_clock_step(self, at: datetime, seconds: float) -> None:
        """A wall-clock step: the interval [at - seconds, at] (either way) was stamped by a
        clock that was wrong on one side of it."""
        with self.transaction(write=True) as conn:
            conn.execute(insert(t.clock_steps), [{"at": at, "seconds": seconds}])

    def clock_steps(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        """(wall time after the step, its size in seconds) of the steps in [start, end)."""
        table = t.clock_steps
        query = select(table.c.at, table.c.seconds).where(table.c.at >= start, table.c.at < end)
        return [(r["at"], r["seconds"]) for r in self._fetch(query.order_by(table.c.at))]

    def record_agent_heartbeat(self, at: datetime) -> None:
        with self.transaction(write=True) as conn:
            self._upsert(conn, t.agent_heartbeat, ["id"], [{"id": 1, "at": at}])

    def last_agent_heartbeat(self) -> datetime | None:
        found = self._fetch(select(t.agent_heartbeat.c.at))
        return found[0]["at"] if found else None
