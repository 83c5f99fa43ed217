"""The audit trail: every write through the API or the console, who did it, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from agent.access.tokens import Principal
from agent.store import schema
from agent.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]


def record(
    store: SqlStore,
    who: Principal,
    action: str,
    target: str,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    """Blocking: call through a thread from the event loop."""
    values = {"at": at, "actor": who.name, "role": who.role.label, "action": action}
    values |= {"target": target, "detail": detail}
    with store.transaction(write=True) as conn:
        conn.execute(insert(schema.audit_log).values(values))


def entries(store: SqlStore, *, limit: int = 100, offset: int = 0) -> tuple[int, list[AuditEntry]]:
    """(total, newest first page)."""
    table = schema.audit_log
    query = select(table).order_by(table.c.id.desc()).limit(limit).offset(offset)
    with store.transaction() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar_one()
        rows = conn.execute(query).mappings().all()
    return int(total), [AuditEntry(**row) for row in rows]
