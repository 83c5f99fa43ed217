"""What the engine reads back after a restart or a crash: `SqlStore.load_snapshot`."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, select

from agent.records import CheckStatus, Incident, LocationState, ServiceStatus, Snapshot, Transition
from agent.store import rows
from agent.store import schema as t
from agent.store.codec import decode_record
from agent.store.sql.database import SqlDatabase
from agent.store.sql.results import check_statuses, service_statuses
from checks.result import Outcome

RECENT_TRANSITIONS = 10  # per service, in the snapshot: enough for the flapping window's context

S = TypeVar("S", CheckStatus, ServiceStatus)


class SnapshotReading(SqlDatabase):
    def load_snapshot(self) -> Snapshot:
        with self.transaction() as conn:
            checks, services = check_statuses(conn), service_statuses(conn)
            return Snapshot(
                checks=_newest_check_results(conn, checks),
                services=_newest_service_results(conn, services),
                open_incidents=_by_service(_latest_incidents(conn, closed=False)),
                last_incidents=_by_service(_latest_incidents(conn, closed=True)),
                recent_transitions=_recent_transitions(conn),
                next_incident_id=(conn.execute(select(func.max(t.incidents.c.id))).scalar() or 0)
                + 1,
                locations=_location_states(conn),
            )


def _location_states(conn: Connection) -> dict[str, dict[str, LocationState]]:
    """Each location's saved state, its newest result taken from the stored results (the
    engine saves a state whose only change is that instant every few minutes): one
    statement, an index range read per state inside the database."""
    states, results = t.location_state, t.probe_results
    newest = (
        select(func.max(results.c.started_at))
        .where(
            results.c.check == states.c.check,
            results.c.location == states.c.location,
            results.c.started_at > states.c.last_result_at,
            results.c.outcome != Outcome.UNKNOWN.value,
        )
        .scalar_subquery()
    )
    out: dict[str, dict[str, LocationState]] = {}
    for row in conn.execute(select(states.c.data, newest.label("newest"))):
        state = decode_record(LocationState, row.data)
        if row.newest is not None:
            status = dataclasses.replace(state.status, last_result_at=row.newest)
            state = dataclasses.replace(state, status=status)
        out.setdefault(state.check, {})[state.location] = state
    return out


# The engine saves a status whose only change is its newest result's instant at most once
# a minute (agent/engine/saving.py, SAVE_EVERY_SECONDS), so after a kill -9 the stored
# instant can be older than the newest stored result: take the newest known (not unknown)
# result instead, so the silent gap is measured from the true last result. One index
# range read per check / service, over the few results after the stored instant.


def _newest_check_results(
    conn: Connection, statuses: dict[str, CheckStatus]
) -> dict[str, CheckStatus]:
    return _newest_results(conn, t.probe_results.c.check, statuses, "last_result_at")


def _newest_service_results(
    conn: Connection, statuses: dict[str, ServiceStatus]
) -> dict[str, ServiceStatus]:
    return _newest_results(conn, t.probe_results.c.service, statuses, "last_seen_at")


def _newest_results(conn: Connection, key: Any, statuses: dict[str, S], field: str) -> dict[str, S]:
    """`statuses` with `field` moved to the newest known result stored after it."""
    table = t.probe_results
    query = select(func.max(table.c.started_at)).where(
        key == bindparam("key"),
        table.c.started_at > bindparam("after", type_=table.c.started_at.type),
        table.c.outcome != Outcome.UNKNOWN.value,
    )
    out = dict(statuses)
    for name, status in statuses.items():
        stored = getattr(status, field)
        if stored is None:
            continue
        newest = conn.execute(query, {"key": name, "after": stored}).scalar()
        if newest is not None:
            out[name] = dataclasses.replace(status, **{field: newest})
    return out


def _latest_incidents(conn: Connection, *, closed: bool) -> list[Incident]:
    table = t.incidents
    where = table.c.ended_at.is_not(None) if closed else table.c.ended_at.is_(None)
    order = (table.c.ended_at.desc(), table.c.id.desc()) if closed else (table.c.id.desc(),)
    rank = func.row_number().over(partition_by=table.c.service, order_by=order)
    ranked = select(table, rank.label("rank")).where(where).subquery()
    query = select(*(ranked.c[c.name] for c in table.c)).where(ranked.c.rank == 1)
    return [rows.incident_from_row(row._mapping) for row in conn.execute(query)]


def _recent_transitions(conn: Connection) -> dict[str, tuple[Transition, ...]]:
    table = t.transitions
    rank = func.row_number().over(partition_by=table.c.service, order_by=table.c.at.desc())
    ranked = select(table, rank.label("rank")).subquery()
    query = (
        select(ranked.c.service, ranked.c.at, ranked.c.state)
        .where(ranked.c.rank <= RECENT_TRANSITIONS)
        .order_by(ranked.c.service, ranked.c.at)
    )
    out: dict[str, list[Transition]] = {}
    for row in conn.execute(query):
        out.setdefault(row.service, []).append(rows.transition_from_row(row._mapping))
    return {service: tuple(steps) for service, steps in out.items()}


def _by_service(incidents: list[Incident]) -> dict[str, Incident]:
    return {incident.service: incident for incident in incidents}
