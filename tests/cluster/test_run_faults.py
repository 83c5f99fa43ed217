"""Faults on a cluster of three real `vigia run` processes (issue #15), on a private PostgreSQL
the test starts (and restarts), probing a scripted loopback estate, notifying a webhook sink.

- kill -9 of a partition's owner mid-outage: one incident with its original id and start, one
  firing and one resolved notification at the sink, ClusterNodeDown once; failover timed;
- SIGSTOP of an owner past its lease, then SIGCONT: not one row committed under its old epochs
  after the next epoch began (the partition_commits audit), and it rejoins as a follower;
- PostgreSQL restarted mid-outage: the nodes reconnect, reclaim and go on, nothing lost.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import pytest

from tests.cluster.conftest import NAMES
from tests.cluster.private_postgres import PrivatePostgres
from tests.cluster.run_cluster import Cluster, wait_for
from tests.cluster.scenarios import fresh_service, outage, restored

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_paused_owner_commits_nothing_under_its_old_epochs_and_rejoins_as_a_follower(
    cluster: Cluster,
) -> None:
    victim = "n2"
    old = cluster.epochs(victim)
    assert old
    cluster.nodes[victim].signal(signal.SIGSTOP)
    lease = cluster.layout.lease_seconds
    others = [n for n in NAMES if n != victim]
    wait_for(lambda: cluster.balanced(others), 6 * lease, "the survivors to take everything")
    taken = {p: e for n in others for p, e in cluster.epochs(n).items() if p in old}
    assert all(taken[p] > old[p] for p in old)
    time.sleep(lease)  # the new owners commit under their epochs
    resumed_at = cluster.now_micros()
    cluster.nodes[victim].signal(signal.SIGCONT)
    wait_for(lambda: cluster.balanced(NAMES), 10 * lease, "the paused node to rejoin")
    assert cluster.nodes[victim].alive
    assert all(e > old.get(p, 0) for p, e in cluster.epochs(victim).items())
    time.sleep(lease)  # anything it still had queued has been tried by now
    commits = cluster.commits()
    for p, epoch in old.items():
        stale = commits.get((p, epoch))
        later = [c for (q, e), c in commits.items() if q == p and e > epoch]
        assert later, f"no commit under the new epoch of partition {p}"
        next_began = min(first for _, first, _ in later)
        if stale is not None:
            assert stale[0] == victim
            assert stale[2] < next_began, f"partition {p}: epoch {epoch} committed after {p}'s next"
            assert stale[2] < resumed_at


def test_kill_9_of_the_owner_mid_outage_keeps_one_incident_and_one_notification(
    cluster: Cluster,
) -> None:
    service = fresh_service(cluster)
    victim = cluster.owner(service)
    assert victim is not None
    opened = outage(cluster, service)
    partition = cluster.partition(service)
    down = f"ClusterNodeDown@{victim}"
    before = cluster.sink.count(down, "firing")  # the paused test may have raised it once
    killed_at = datetime.now(UTC)
    cluster.nodes[victim].signal(signal.SIGKILL)
    lease = cluster.layout.lease_seconds
    failover = wait_for(
        lambda: cluster.holders().get(partition) not in (None, victim), 4 * lease, "a new owner"
    )
    gap = wait_for(lambda: cluster.results_since(service, killed_at) > 0, 4 * lease, "a result")
    print(f"failover {failover:.2f} s, first result after the kill {gap:.2f} s (lease {lease} s)")
    assert failover <= lease + lease / 3 + 2.0  # the lease runs out, then a renewal claims it
    time.sleep(2 * lease)  # the outage goes on under the new owner
    restored(cluster, service, opened)
    # the cluster noticed the dead node, once, whichever node judges it
    wait_for(lambda: cluster.sink.count(down, "firing") > before, 30, "ClusterNodeDown")
    time.sleep(1)
    assert cluster.sink.count(down, "firing") == before + 1
    note = [n for n in cluster.sink.notifications() if n["alert_id"] == down][-1]
    assert note["labels"]["node"] == victim
    others = [n for n in cluster.sink.notifications() if "node" not in n["labels"]]
    assert others and all(victim not in n["labels"].values() for n in others)


def test_postgresql_restarted_mid_outage_the_cluster_recovers_by_itself(
    cluster: Cluster, postgres: PrivatePostgres
) -> None:
    service = fresh_service(cluster)
    opened = outage(cluster, service)
    lease = cluster.layout.lease_seconds
    cluster.db.dispose()
    postgres.stop()
    time.sleep(lease + 1)  # every node gives its partitions up
    postgres.start()
    wait_for(lambda: cluster.balanced(NAMES), 15 * lease, "the nodes to reclaim every partition")
    assert all(node.alive for node in cluster.nodes.values())
    back = datetime.now(UTC)
    wait_for(lambda: cluster.results_since(service, back) > 0, 4 * lease, "probing to resume")
    restored(cluster, service, opened)


def test_postgresql_down_for_long_every_node_writes_again_within_a_lease_of_its_return(
    cluster: Cluster, postgres: PrivatePostgres
) -> None:
    """A writer that kept failing while the database was away must not sit out a long backoff
    after it is back: until it writes, its node holds partitions (the renewer has its own
    connection) whose results and incidents wait, and a clean stop waits for it."""
    lease = cluster.layout.lease_seconds
    cluster.db.dispose()
    postgres.stop()
    time.sleep(5.5 * lease)  # the writers' retries fail at 0.5, 1.5, 3.5, 7.5, 15.5 s ...
    postgres.start()
    back = datetime.now(UTC)
    wait_for(lambda: cluster.balanced(NAMES), 15 * lease, "the nodes to reclaim every partition")

    def every_service_written() -> bool:
        return all(cluster.results_since(s, back) > 0 for s in cluster.services)

    took = wait_for(every_service_written, 20 * lease, "a new result of every service")
    print(f"every service written again {took:.2f} s after PostgreSQL was back (lease {lease} s)")
    assert took <= 3 * lease  # reclaim (lease/3), a state load, one interval, one retry
