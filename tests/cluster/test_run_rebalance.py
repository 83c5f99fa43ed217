"""Nodes 1 -> 3 -> 2 under load (issue #15): the partitions spread evenly after each step and
no check misses two consecutive ticks across the whole run.

Two nodes leave cleanly (SIGTERM: each releases its partitions at once), two join (the node
left alone gives them their share), one leaves again. The probe results in the database are
the proof of coverage: for every check, consecutive results are at most two intervals apart,
plus one probe timeout of tolerance (a probe starts on its own node's schedule, and one in
flight when its partition moves may still be written by its prober).
"""

from __future__ import annotations

import time

import pytest

from checks.durations import parse_duration
from tests.cluster.conftest import NAMES
from tests.cluster.run_cluster import Cluster
from tests.cluster.scenarios import waited

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_one_then_three_then_two_nodes_rebalance_and_no_check_misses_two_ticks(
    cluster: Cluster,
) -> None:
    interval = parse_duration(cluster.layout.interval)
    limit = 2 * interval + parse_duration(cluster.layout.timeout)
    began = cluster.now_micros()
    steps: list[tuple[str, float]] = []
    for name in ("n2", "n3"):
        assert cluster.nodes[name].terminate() == 0
    steps.append(("1 node", waited(cluster, lambda: cluster.balanced(["n1"]), 20, "n1 alone")))
    time.sleep(3 * interval)
    cluster.start("n2", "n3")
    steps.append(("3 nodes", waited(cluster, lambda: cluster.balanced(NAMES), 40, "3 nodes")))
    time.sleep(3 * interval)
    assert cluster.nodes["n3"].terminate() == 0
    two = ["n1", "n2"]
    steps.append(("2 nodes", waited(cluster, lambda: cluster.balanced(two), 20, "n1 and n2")))
    time.sleep(3 * interval)
    ended = cluster.now_micros()
    time.sleep(interval)  # the last results of the window are committed
    gaps = widest_gaps(cluster, began, ended)
    widest = sorted(gaps.values())[-5:]
    print(f"balanced after {steps} s; the widest gaps {widest} s (limit {limit} s)")
    assert set(gaps) == set(cluster.services)
    assert {s: g for s, g in gaps.items() if g > limit} == {}


def widest_gaps(cluster: Cluster, began: int, ended: int) -> dict[str, float]:
    """Per service, the widest gap in seconds between consecutive local results from `began`
    to `ended` (micros, database time), the window's own ends counted as results."""
    rows = cluster.rows(
        "SELECT service, started_at FROM probe_results WHERE location = 'local' "
        "AND started_at BETWEEN :b AND :e ORDER BY service, started_at",
        b=began,
        e=ended,
    )
    times: dict[str, list[int]] = {}
    for service, at in rows:
        times.setdefault(str(service), []).append(int(at))
    return {
        service: max(b - a for a, b in zip([began, *ats], [*ats, ended], strict=True)) / 1e6
        for service, ats in times.items()
    }
