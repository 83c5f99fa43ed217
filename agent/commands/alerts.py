"""`vigia alerts [--json]` and `vigia alerts ack ALERT_ID`: active alerts, delivery, acks."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from typing import Any

from agent.commands.common import CommandError, guarded, iso, open_store, print_json
from alerting import alert_store
from alerting.state import AlertState


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("alerts", help="active alerts, their delivery and acknowledgements")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=guarded(handle_list))
    actions = parser.add_subparsers(dest="action")
    ack = actions.add_parser("ack", help="acknowledge an alert: stops reminders, not recording")
    ack.add_argument("alert_id")
    ack.add_argument("--author", default=None)
    ack.add_argument("--comment", default="")
    ack.set_defaults(handler=guarded(handle_ack))


def handle_list(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        alerts = alert_store.load_alerts(store)
        deliveries = _deliveries(store, [a.alert_id for a in alerts])
    finally:
        store.close()
    rows = [alert_json(a, deliveries.get(a.alert_id, [])) for a in alerts]
    rows.sort(key=lambda r: (r["state"] != "firing", r["alert_id"]))
    if args.json:
        print_json(rows)
    else:
        _print(rows)
    return 0


def handle_ack(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        known = {a.alert_id for a in alert_store.load_alerts(store)}
        if args.alert_id not in known:
            raise CommandError(f"no active alert {args.alert_id!r} (see `vigia alerts`)")
        author = args.author or getpass.getuser()
        alert_store.request_ack(store, args.alert_id, author, args.comment, datetime.now(UTC))
    finally:
        store.close()
    print(f"{args.alert_id} acknowledged by {author}: reminders stop, the alert is still recorded")
    return 0


def _deliveries(store: Any, alert_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Delivery state per alert from the outbox (receiver, state, attempts, last error)."""
    try:
        from alerting.outbox import Outbox
    except ImportError:  # delivery not installed in this build
        return {}
    outbox = Outbox(store)
    return {
        alert_id: [_delivery(item) for item in outbox.history(alert_id)] for alert_id in alert_ids
    }


def _delivery(item: Any) -> dict[str, Any]:
    return {
        "receiver": item.receiver,
        "status": getattr(item, "status", ""),
        "state": item.state,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "delivered_at": iso(getattr(item, "delivered_at", None)),
    }


def alert_json(alert: AlertState, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "team": alert.team,
        "service": alert.service,
        "check": alert.check,
        "state": alert.state,
        "severity": alert.labels.get("severity", ""),
        "summary": alert.annotations.get("summary", ""),
        "active_since": iso(alert.active_since),
        "firing_since": iso(alert.firing_since),
        "acknowledged": None
        if alert.acked_by is None
        else {"by": alert.acked_by, "at": iso(alert.acked_at), "comment": alert.ack_comment},
        "deliveries": deliveries,
    }


def _print(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no active alerts")
        return
    for r in rows:
        ack = f"  ack: {r['acknowledged']['by']}" if r["acknowledged"] else ""
        sent = ", ".join(f"{d['receiver']}={d['state']}" for d in r["deliveries"]) or "-"
        print(f"{r['state']:22} {r['team']:4} {r['severity']:9} {r['alert_id']:40} {r['summary']}")
        print(f"{'':22} since {r['active_since']}  delivery: {sent}{ack}")
