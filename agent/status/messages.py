"""Public messages: what an operator tells the public about an incident or a service.

They are the only free text the status page shows; an incident's cause, the checks' reasons
and maintenance reasons stay internal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from agent.store import schema
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore

TEXT_LIMIT = 1000  # characters: a status update, not a post-mortem
LIST_LIMIT = 500  # messages one listing returns at most


@dataclass(frozen=True, slots=True)
class PublicMessage:
    id: int
    incident: int | None
    service: str | None
    text: str
    author: str
    written_at: datetime


def write(
    store: SqlStore,
    *,
    incident: int | None,
    service: str | None,
    text: str,
    author: str,
    at: datetime,
) -> PublicMessage:
    """Blocking. Exactly one of `incident` and `service`; an unknown incident raises."""
    if (incident is None) == (service is None):
        raise ValueError("a public message is about one incident or one service")
    values = {"incident": incident, "service": service, "text": text, "author": author}
    table = schema.public_messages
    with store.transaction(write=True) as conn:
        if incident is not None:
            exists = select(schema.incidents.c.id).where(schema.incidents.c.id == incident)
            if conn.execute(exists).first() is None:
                raise UnknownIncidentError(f"incident {incident} does not exist")
        stmt = insert(table).returning(table.c.id)
        new_id = conn.execute(stmt, {**values, "written_at": at}).scalar_one()
    return PublicMessage(id=new_id, written_at=at, **values)  # type: ignore[arg-type]


def listing(
    store: SqlStore,
    *,
    incident: int | None = None,
    service: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[PublicMessage]:
    """Blocking: messages newest first, about `incident` or `service` when given."""
    table = schema.public_messages
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if incident is not None:
        query = query.where(table.c.incident == incident)
    if service is not None:
        query = query.where(table.c.service == service)
    with store.transaction() as conn:
        return [PublicMessage(**row) for row in conn.execute(query).mappings()]


def of_incidents(store: SqlStore, ids: Iterable[int]) -> dict[int, list[PublicMessage]]:
    """Blocking: each incident's messages, oldest first."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table = schema.public_messages
    query = select(table).where(table.c.incident.in_(wanted)).order_by(table.c.id)
    found: dict[int, list[PublicMessage]] = defaultdict(list)
    with store.transaction() as conn:
        for row in conn.execute(query).mappings():
            found[row["incident"]].append(PublicMessage(**row))
    return dict(found)


def latest_of_services(
    store: SqlStore, services: Iterable[str], since: datetime
) -> dict[str, PublicMessage]:
    """Blocking: each service's newest message written at or after `since`."""
    wanted = sorted(set(services))
    if not wanted:
        return {}
    table = schema.public_messages
    query = (
        select(table)
        .where(table.c.service.in_(wanted), table.c.written_at >= since)
        .order_by(table.c.id)
    )
    with store.transaction() as conn:
        return {row["service"]: PublicMessage(**row) for row in conn.execute(query).mappings()}
