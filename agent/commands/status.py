"""`vigia status`: every service's current state, since when, and its open incident."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from agent.commands.common import guarded, iso, open_catalog, open_store, print_json
from agent.records import Incident, ServiceStatus, State


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("status", help="current state of every service")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=guarded(handle))


def handle(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.settings)
    store = open_store(args.settings)
    try:
        statuses = store.service_statuses()
        open_incidents = {i.service: i for i in store.incidents(open_only=True)}
    finally:
        store.close()
    now = datetime.now(UTC)
    rows = []
    for service in catalog.services:
        status = statuses.get(service.id)
        incident = open_incidents.get(service.id)
        rows.append(_row(service.id, service.tier, service.monitored, status, incident, now))
    if args.json:
        print_json(rows)
    else:
        _print(rows)
    return 0


def _row(
    service: str,
    tier: str,
    monitored: bool,
    status: ServiceStatus | None,
    incident: Incident | None,
    now: datetime,
) -> dict[str, object]:
    state = status.state if status else State.UNKNOWN
    return {
        "service": service,
        "tier": tier,
        "monitored": monitored,
        "state": state.value if monitored else "unmonitored",
        "since": iso(status.since) if status else None,
        "last_seen_at": iso(status.last_seen_at) if status else None,
        "flapping": bool(status and status.flapping),
        "incident": _incident(incident, now),
    }


def _incident(incident: Incident | None, now: datetime) -> dict[str, object] | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "started_at": iso(incident.started_at),
        "elapsed_seconds": round((now - incident.started_at).total_seconds()),
        "root_cause": incident.root_cause,
    }


def _print(rows: list[dict[str, object]]) -> None:
    print(f"{'SERVICE':28} {'TIER':8} {'STATE':11} {'SINCE':26} INCIDENT")
    for row in rows:
        incident = row["incident"]
        note = ""
        if isinstance(incident, dict):
            minutes = int(incident["elapsed_seconds"]) // 60
            note = f"#{incident['id']} open {minutes} min"
        since = str(row["since"] or "-")
        print(f"{row['service']!s:28} {row['tier']!s:8} {row['state']!s:11} {since:26} {note}")
