"""`vigia incidents`: the outage records (registos de indisponibilidade), and their annotations.

`vigia incidents [--service ...]` lists; `vigia incidents annotate ID --field ... --text ...
--author ...` adds an annotation (the incident record itself is never edited, semantics §3).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from agent.commands.common import (
    CommandError,
    guarded,
    iso,
    open_store,
    parse_instant,
    print_json,
)
from agent.records import Incident
from agent.store.errors import UnknownIncidentError

ANNOTATION_FIELDS = ("cause", "impact", "action", "note", "false_alarm")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("incidents", help="list incidents, or annotate one")
    parser.add_argument("--service", help="only this service")
    parser.add_argument("--from", dest="start", help="ISO 8601 start (overlapping incidents)")
    parser.add_argument("--to", dest="end", help="ISO 8601 end")
    parser.add_argument("--open", action="store_true", help="only incidents still open")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=guarded(handle))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    annotate = actions.add_parser("annotate", help="add an annotation to an incident")
    annotate.add_argument("incident_id", type=int, metavar="ID")
    annotate.add_argument("--field", required=True, choices=ANNOTATION_FIELDS)
    annotate.add_argument("--text", required=True)
    annotate.add_argument("--author", required=True)
    annotate.add_argument("--json", action="store_true")
    annotate.set_defaults(handler=guarded(handle_annotate))


def handle_annotate(args: argparse.Namespace) -> int:
    if not args.text.strip() or not args.author.strip():
        raise CommandError("--text and --author must not be empty")
    store = open_store(args.settings)
    try:
        note = store.annotate(
            args.incident_id, args.field, args.text, args.author, datetime.now(UTC)
        )
    except UnknownIncidentError as exc:
        raise CommandError(str(exc)) from None
    finally:
        store.close()
    record = {
        "id": note.id,
        "incident": note.incident,
        "field": note.field,
        "text": note.text,
        "author": note.author,
        "created_at": iso(note.created_at),
    }
    if args.json:
        print_json(record)
    else:
        print(f"annotation {note.id} added to incident {note.incident} ({note.field})")
    return 0


def handle(args: argparse.Namespace) -> int:
    tz = args.settings.timezone
    start = parse_instant(args.start, tz) if args.start else None
    end = parse_instant(args.end, tz) if args.end else None
    store = open_store(args.settings)
    try:
        found = store.incidents(service=args.service, start=start, end=end, open_only=args.open)
    finally:
        store.close()
    records = [incident_json(i) for i in found]
    if args.json:
        print_json(records)
    else:
        _print(records)
    return 0


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "service": incident.service,
        "tier": incident.tier,
        "pcn": incident.pcn,
        "started_at": iso(incident.started_at),
        "confirmed_at": iso(incident.confirmed_at),
        "ended_at": iso(incident.ended_at),
        "restore_seconds": incident.restore_seconds,
        "maintenance_seconds": incident.maintenance_seconds,
        "cause": incident.cause,
        "root_cause": incident.root_cause,
        "inhibited": incident.inhibited,
        "fragments": [
            {
                "started_at": iso(f.started_at),
                "confirmed_at": iso(f.confirmed_at),
                "ended_at": iso(f.ended_at),
            }
            for f in incident.fragments
        ],
    }


def _print(records: list[dict[str, Any]]) -> None:
    print(f"{'ID':>5} {'SERVICE':26} {'STARTED':26} {'ENDED':26} {'RESTORE':>9}  CAUSE")
    for r in records:
        restore = "open" if r["ended_at"] is None else f"{r['restore_seconds'] / 60:.1f} min"
        ended = r["ended_at"] or "-"
        print(
            f"{r['id']:>5} {r['service']:26} {r['started_at']:26} {ended:26} {restore:>9}  "
            f"{r['cause']}"
        )
