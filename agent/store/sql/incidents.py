"""Incidents and timelines in `SqlStore`: incidents and their annotations, incident ids handed
out by the database, and each service's transitions, unknown intervals and flapping changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, or_, select, update

from agent.records import Annotation, FlappingChanged, Incident, Transition
from agent.store import rows
from agent.store import schema as t
from agent.store.errors import UnknownIncidentError
from agent.store.sql.database import SqlDatabase, in_range, optional_filters


class IncidentRecords(SqlDatabase):
    # ---- incidents --------------------------------------------------------------------------

    def incidents(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        open_only: bool = False,
    ) -> list[Incident]:
        table = t.incidents
        conditions = optional_filters((table.c.service, service))
        if end is not None:
            conditions.append(table.c.started_at < end)
        if start is not None:  # an open incident runs to +inf
            conditions.append(or_(table.c.ended_at.is_(None), table.c.ended_at > start))
        if open_only:
            conditions.append(table.c.ended_at.is_(None))
        query = select(table).where(*conditions).order_by(table.c.started_at, table.c.id)
        return [rows.incident_from_row(row) for row in self._fetch(query)]

    def incident(self, incident_id: int) -> Incident | None:
        query = select(t.incidents).where(t.incidents.c.id == incident_id)
        found = self._fetch(query)
        return rows.incident_from_row(found[0]) if found else None

    def annotate(
        self, incident_id: int, field: str, text: str, author: str, at: datetime
    ) -> Annotation:
        values = {"incident": incident_id, "field": field, "text": text, "author": author}
        with self.transaction(write=True) as conn:
            exists = select(t.incidents.c.id).where(t.incidents.c.id == incident_id)
            if conn.execute(exists).first() is None:
                raise UnknownIncidentError(f"incident {incident_id} does not exist")
            stmt = insert(t.incident_annotations).returning(t.incident_annotations.c.id)
            new_id = conn.execute(stmt, {**values, "created_at": at}).scalar_one()
        return Annotation(id=new_id, created_at=at, **values)  # type: ignore[arg-type]

    def annotations(self, incident_id: int) -> list[Annotation]:
        table = t.incident_annotations
        query = select(table).where(table.c.incident == incident_id).order_by(table.c.id)
        return [Annotation(**row) for row in self._fetch(query)]

    # ---- ids from the database --------------------------------------------------------------

    def reserve_ids(self, count: int, name: str = "incident") -> range:
        """Hand out `count` ids no other caller (node) ever gets: a row lock on the counter
        serialises reservations. Never below the highest stored incident (a restored or
        imported database keeps its numbers)."""
        if count < 1:
            raise ValueError(f"reserve at least one id, not {count}")
        table = t.id_counters
        highest = select(func.coalesce(func.max(t.incidents.c.id), 0) + 1).scalar_subquery()
        start = (
            func.max(table.c.next, highest)
            if self._sqlite
            else func.greatest(table.c.next, highest)
        )
        with self.transaction(write=True) as conn:
            self._insert_new(conn, table, [{"name": name, "next": 1}])
            stmt = (
                update(table)
                .where(table.c.name == name)
                .values(next=start + count)
                .returning(table.c.next)
            )
            end = int(conn.execute(stmt).scalar_one())
        return range(end - count, end)

    def give_back_ids(self, unused: range, name: str = "incident") -> bool:
        """Return the unused tail of the last reservation, when nobody reserved after it (a
        clean shutdown leaves no gap in the numbers); True when it was taken back."""
        if not unused:
            return False
        table = t.id_counters
        stmt = (
            update(table)
            .where(table.c.name == name, table.c.next == unused.stop)
            .values(next=unused.start)
        )
        with self.transaction(write=True) as conn:
            return bool(conn.execute(stmt).rowcount)

    # ---- timelines --------------------------------------------------------------------------

    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]:
        table = t.transitions
        mine = select(table).where(table.c.service == service)
        with self.transaction() as conn:
            before = conn.execute(
                mine.where(table.c.at < start).order_by(table.c.at.desc()).limit(1)
            ).all()
            inside = conn.execute(
                mine.where(table.c.at >= start, table.c.at < end).order_by(table.c.at)
            ).all()
        return [rows.transition_from_row(row._mapping) for row in [*before, *inside]]

    def unknown_intervals(
        self, service: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        table = t.unknown_intervals
        query = (
            select(table.c.start, table.c.end)
            .where(table.c.service == service, table.c.start < end, table.c.end > start)
            .order_by(table.c.start, table.c.end)
        )
        return [(row["start"], row["end"]) for row in self._fetch(query)]

    def flapping_changes(
        self, service: str, start: datetime, end: datetime
    ) -> list[FlappingChanged]:
        """Recorded flapping starts and stops of `service` in [start, end), oldest first."""
        table = t.flapping_events
        query = (
            select(table)
            .where(table.c.service == service, *in_range(table.c.at, start, end))
            .order_by(table.c.at)
        )
        return [FlappingChanged(**row) for row in self._fetch(query)]
