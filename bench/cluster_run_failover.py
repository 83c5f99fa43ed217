"""Failover of real `vigia run` nodes after kill -9 (issue #15): three nodes with a `cluster:`
section on a fresh database of the PostgreSQL at $VIGIA_TEST_POSTGRES_URL, probing a scripted
loopback estate every 2 s, notifying a webhook sink (tests/cluster/run_cluster.py).

Each round breaks a service owned by the next node in turn, waits for its incident and its one
notification, kills that node with SIGKILL, times the takeover of all its partitions and the
first result of the service stored after the kill, mends the service, checks the round's
incident (one, with its start, closed) and the sink (one firing, one resolved), then restarts
the node under its name and waits for the partitions to spread again. Prints p50/p99/max and
the totals of lost results, duplicate notifications and broken incidents.

    VIGIA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        flock /tmp/bench.lock nice -n 10 .venv/bin/python -m bench.cluster_run_failover \\
        --kills 20 --lease 15
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.cluster.run_cluster import Cluster, Layout, wait_for

NAMES = ["n1", "n2", "n3"]


@dataclass
class Totals:
    failover: list[float] = field(default_factory=list)  # kill -> every partition held again
    first_result: list[float] = field(default_factory=list)  # kill -> a result of the service
    duplicates: int = 0  # notifications of one alert and status more than once
    broken_incidents: int = 0  # rounds without exactly one closed incident with its start
    pending_left: int = 0  # results still waiting for an owner at the end (lost)


def round_(cluster: Cluster, k: int, totals: Totals, used: set[str]) -> None:
    lease = cluster.layout.lease_seconds
    victim = NAMES[k % len(NAMES)]
    held = set(cluster.epochs(victim))
    # a service not broken before: one broken again soon after it came back would be flapping,
    # and its new outage folded into the previous incident (semantics.md §3)
    service = next(s for s in cluster.services if cluster.partition(s) in held and s not in used)
    used.add(service)
    began = datetime.now(UTC)
    cluster.estate.set(service, "503")
    alert = f"ServiceDown/{service}"
    fired = cluster.sink.count(alert, "firing")
    wait_for(lambda: cluster.sink.count(alert, "firing") > fired, 60, "ServiceDown")
    wait_for(lambda: cluster.undelivered() == 0, 30, "the delivery to be recorded")
    wait_for(lambda: _since(cluster, service, began), 30, "the incident's commit")
    (opened,) = _since(cluster, service, began)
    killed = datetime.now(UTC)
    start = time.monotonic()
    cluster.nodes[victim].signal(signal.SIGKILL)
    wait_for(lambda: not (held & set(cluster.epochs(victim))) and _all_held(cluster), 6 * lease,
             "the takeover", step=0.05)  # fmt: skip
    totals.failover.append(time.monotonic() - start)
    wait_for(lambda: cluster.results_since(service, killed) > 0, 6 * lease, "a result", 0.05)
    totals.first_result.append(time.monotonic() - start)
    resolved = cluster.sink.count(alert, "resolved")
    cluster.estate.set(service, "ok")
    wait_for(lambda: cluster.sink.count(alert, "resolved") > resolved, 60, "the resolve")
    wait_for(lambda: all(i.ended_at for i in _since(cluster, service, began)), 30, "the close")
    incidents = _since(cluster, service, began)
    if [(i.id, i.started_at) for i in incidents] != [(opened.id, opened.started_at)]:
        totals.broken_incidents += 1
    time.sleep(2)  # a duplicate would arrive by now
    totals.duplicates += cluster.sink.count(alert, "firing") - fired - 1
    totals.duplicates += cluster.sink.count(alert, "resolved") - resolved - 1
    cluster.nodes[victim].stop()
    cluster.start(victim)
    wait_for(lambda: cluster.balanced(NAMES), 10 * lease, "the partitions to spread again")
    print(
        f"kill {k + 1}: {victim} failover {totals.failover[-1]:.2f} s, "
        f"first result {totals.first_result[-1]:.2f} s",
        flush=True,
    )


def _since(cluster: Cluster, service: str, began: datetime) -> list:  # type: ignore[type-arg]
    return [i for i in cluster.incidents(service) if i.started_at >= began]


def _all_held(cluster: Cluster) -> bool:
    return len(cluster.holders()) == cluster.layout.partitions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    each = -(-args.kills // args.partitions) + 2  # a fresh service for every round
    layout = Layout(args.partitions, args.lease, services_per_partition=each)
    folder = Path(tempfile.mkdtemp(prefix="vigia-failover-"))
    cluster = Cluster(os.environ["VIGIA_TEST_POSTGRES_URL"], folder, layout)
    totals = Totals()
    load_before = os.getloadavg()
    try:
        cluster.start(*NAMES)
        wait_for(lambda: cluster.balanced(NAMES), 10 * args.lease, "the partitions to spread")
        used: set[str] = set()
        for k in range(args.kills):
            round_(cluster, k, totals, used)
        totals.pending_left = int(cluster.rows("SELECT count(*) FROM pending_results")[0][0])
    finally:
        cluster.close()
    report(args, totals, load_before, os.getloadavg())


def report(args: argparse.Namespace, totals: Totals, before: tuple, after: tuple) -> None:  # type: ignore[type-arg]
    def line(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return (
            f"{name}: p50={statistics.median(ordered):.2f}s p99={p99:.2f}s "
            f"max={ordered[-1]:.2f}s p99/lease={p99 / args.lease:.2f}"
        )

    print(f"kills={len(totals.failover)} lease={args.lease}s partitions={args.partitions}")
    print(line("failover", totals.failover))
    print(line("first result after the kill", totals.first_result))
    print(
        f"duplicate notifications={totals.duplicates} broken incidents={totals.broken_incidents} "
        f"results left waiting={totals.pending_left}"
    )
    print(f"load average before {before[0]:.2f} after {after[0]:.2f}")


if __name__ == "__main__":
    main()
