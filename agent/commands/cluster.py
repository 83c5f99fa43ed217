"""`vigia cluster status`: the core nodes, the partitions, their owners, epochs and leases;
`vigia cluster forget NODE`: remove a node that is gone for good."""

from __future__ import annotations

import argparse
from typing import Any

from agent.cluster import lease
from agent.commands.common import CommandError, guarded, open_store, print_json

DEFAULT_LEASE_SECONDS = 15.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("cluster", help="several core nodes on PostgreSQL")
    actions = parser.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="nodes, partitions, owners, epochs, lease ages")
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--lease-seconds",
        type=float,
        default=DEFAULT_LEASE_SECONDS,
        help="a node is live while seen within this time (default: 15)",
    )
    status.set_defaults(handler=guarded(handle_status))
    forget = actions.add_parser(
        "forget", help="remove a node that is gone for good (ends its ClusterNodeDown)"
    )
    forget.add_argument("node", help="the node's name, as `cluster status` lists it")
    forget.add_argument(
        "--lease-seconds",
        type=float,
        default=DEFAULT_LEASE_SECONDS,
        help="a node seen within this time is live and is not forgotten (default: 15)",
    )
    forget.set_defaults(handler=guarded(handle_forget))


def handle_forget(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        with store.transaction(write=True) as conn:
            if conn.dialect.name != "postgresql":
                raise CommandError(
                    "clustering needs PostgreSQL: this database is SQLite (one node)"
                )
            outcome = lease.forget(conn, args.node, args.lease_seconds)
    finally:
        store.close()
    if outcome == "live":
        raise CommandError(
            f"node {args.node!r} was seen within {args.lease_seconds:g} s: it is live; stop it "
            "(a clean shutdown removes it) instead of forgetting it"
        )
    if outcome == "unknown":
        raise CommandError(f"no node {args.node!r} in this cluster (see `vigia cluster status`)")
    print(f"node {args.node!r} forgotten")
    return 0


def handle_status(args: argparse.Namespace) -> int:
    store = open_store(args.settings)
    try:
        with store.transaction() as conn:
            if conn.dialect.name != "postgresql":
                raise CommandError(
                    "clustering needs PostgreSQL: this database is SQLite (one node)"
                )
            found = lease.status(conn)
    finally:
        store.close()
    for node in found["nodes"]:
        node["live"] = node["seen_seconds_ago"] < args.lease_seconds
    if args.json:
        print_json(found)
    else:
        _print(found)
    return 0


def _print(found: dict[str, list[dict[str, Any]]]) -> None:
    print(f"{'node':<30} {'live':<5} {'seen ago':>9}  version")
    for node in found["nodes"]:
        live = "yes" if node["live"] else "no"
        print(f"{node['node']:<30} {live:<5} {node['seen_seconds_ago']:>8.1f}s  {node['version']}")
    print(f"\n{'partition':>9}  {'holder':<30} {'epoch':>6} {'lease left':>11}")
    for row in found["partitions"]:
        holder = row["holder"] or "-"
        left = row["expires_in_seconds"]
        shown = f"{left:.1f}s" if row["holder"] and left > 0 else "free"
        print(f"{row['partition']:>9}  {holder:<30} {row['epoch']:>6} {shown:>11}")
