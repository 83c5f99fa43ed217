"""Maintenance windows in `SqlStore`: planned windows added, cancelled and read by range."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from agent.bounds import ALLOWED, EARLIEST, LATEST
from agent.records import MaintenanceWindow
from agent.store import schema as t
from agent.store.sql.database import SqlDatabase, optional_filters

_log = logging.getLogger(__name__)


class MaintenanceRecords(SqlDatabase):
    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        super().__init__(url, busy_timeout=busy_timeout)
        self.skipped_windows = 0  # maintenance rows outside agent/bounds.py, at the last read
        self._logged_skipped: tuple[int, ...] = ()

    def add_window(
        self,
        service: str,
        start: datetime,
        end: datetime,
        reason: str,
        author: str,
        created_at: datetime,
    ) -> MaintenanceWindow:
        values = {"service": service, "start": start, "end": end, "reason": reason}
        values |= {"author": author, "created_at": created_at}
        with self.transaction(write=True) as conn:
            stmt = insert(t.maintenance_windows).returning(t.maintenance_windows.c.id)
            new_id = conn.execute(stmt, values).scalar_one()
        return MaintenanceWindow(id=new_id, **values)  # type: ignore[arg-type]

    def cancel_window(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        """Cancels the window; cancelling again keeps the first cancellation time."""
        table = t.maintenance_windows
        with self.transaction(write=True) as conn:
            conn.execute(
                update(table)
                .where(table.c.id == window_id, table.c.cancelled_at.is_(None))
                .values(cancelled_at=at)
            )
            row = conn.execute(select(table).where(table.c.id == window_id)).first()
        return None if row is None else MaintenanceWindow(**row._asdict())

    def windows(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        include_cancelled: bool = False,
    ) -> list[MaintenanceWindow]:
        """Windows overlapping [start, end), by start."""
        table = t.maintenance_windows
        conditions = optional_filters((table.c.service, service))
        if start is not None:
            conditions.append(table.c.end > start)
        if end is not None:
            conditions.append(table.c.start < end)
        if not include_cancelled:
            conditions.append(table.c.cancelled_at.is_(None))
        # a row outside the input range (stored by an older vigia or by hand) may not even
        # convert back to a datetime: it is skipped, counted and logged, the others still read
        readable = [table.c.start >= EARLIEST, table.c.end <= LATEST]
        query = select(table).where(*conditions, *readable).order_by(table.c.start, table.c.id)
        found = [MaintenanceWindow(**row) for row in self._fetch(query)]
        self._note_unreadable_windows(conditions)
        return found

    def _note_unreadable_windows(self, conditions: list[ColumnElement[bool]]) -> None:
        table = t.maintenance_windows
        outside = or_(table.c.start < EARLIEST, table.c.end > LATEST)
        query = select(table.c.id).where(*conditions, outside).order_by(table.c.id)
        ids = tuple(row["id"] for row in self._fetch(query))
        self.skipped_windows = len(ids)
        if ids and ids != self._logged_skipped:
            _log.warning(
                "maintenance windows %s skipped: start or end outside %s",
                ", ".join(map(str, ids)),
                ALLOWED,
            )
        self._logged_skipped = ids
