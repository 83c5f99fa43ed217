"""`vigia maintenance add|list|cancel`: ad-hoc maintenance windows (janelas de manutenção)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from typing import Any

from agent.commands.common import (
    CommandError,
    guarded,
    iso,
    open_catalog,
    open_store,
    parse_instant,
    print_json,
)
from agent.records import MaintenanceWindow


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("maintenance", help="ad-hoc maintenance windows")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="declare a window (planned if it starts in the future)")
    add.add_argument("--service", required=True)
    add.add_argument("--start", required=True, help="ISO 8601")
    add.add_argument("--end", required=True, help="ISO 8601")
    add.add_argument("--reason", required=True)
    add.add_argument("--author", default=None)
    add.set_defaults(handler=guarded(handle_add))
    listing = actions.add_parser("list", help="list windows")
    listing.add_argument("--service")
    listing.add_argument("--all", action="store_true", help="include cancelled windows")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=guarded(handle_list))
    cancel = actions.add_parser("cancel", help="cancel a window")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=guarded(handle_cancel))


def handle_add(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.settings)
    if args.service not in catalog.by_id:
        raise CommandError(f"service {args.service!r} is not in the catalogue")
    tz = args.settings.timezone
    start, end = parse_instant(args.start, tz), parse_instant(args.end, tz)
    if end <= start:
        raise CommandError(f"--end {args.end} is not after --start {args.start}")
    store = open_store(args.settings)
    try:
        window = store.add_window(
            args.service,
            start,
            end,
            args.reason,
            args.author or getpass.getuser(),
            datetime.now(UTC),
        )
    finally:
        store.close()
    kind = "RETROACTIVE (excludes nothing unless allowed)" if window.retroactive else "planned"
    print(f"window {window.id} for {window.service}: {iso(start)} -> {iso(end)}, {kind}")
    return 0


def handle_list(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        windows = store.windows(service=args.service, include_cancelled=args.all)
    finally:
        store.close()
    rows = [window_json(w) for w in windows]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        flags = " retroactive" if r["retroactive"] else ""
        flags += " cancelled" if r["cancelled_at"] else ""
        print(f"{r['id']:>4} {r['service']:24} {r['start']} -> {r['end']}{flags}  {r['reason']}")
    return 0


def handle_cancel(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        window = store.cancel_window(args.id, datetime.now(UTC))
    finally:
        store.close()
    if window is None:
        raise CommandError(f"no maintenance window {args.id}")
    print(f"window {window.id} cancelled")
    return 0


def window_json(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "id": window.id,
        "service": window.service,
        "start": iso(window.start),
        "end": iso(window.end),
        "reason": window.reason,
        "author": window.author,
        "created_at": iso(window.created_at),
        "cancelled_at": iso(window.cancelled_at),
        "retroactive": window.retroactive,
    }
