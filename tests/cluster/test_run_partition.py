"""A node cut from PostgreSQL (issue #15): it stops writing before another node can claim its
partitions, gives them up itself, and rejoins as a follower once the link heals; the outage
it was judging keeps one incident and one notification.

The cut is a partition, not a reset: the proxy between the node and the server stops
forwarding and keeps every socket open, at the moment the server has answered a statement
inside one of the node's transactions. The server is not told; it keeps that session, idle in
its transaction, with whatever the transaction locked.
"""

from __future__ import annotations

import time

import pytest

from tests.cluster.conftest import NAMES, PROXIED
from tests.cluster.proxy import CuttableProxy
from tests.cluster.run_cluster import Cluster, wait_for
from tests.cluster.scenarios import fresh_service, outage, overlaps, restored, waited

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GAVE_UP = "lost or released"  # agent/cluster/member.py's log line
# The server's side of a transaction the node holds open, by its last statement: a renewal
# after it updated the lease rows (row locks on them), or an engine batch after its fence
# (a share lock on them) and its first writes.
RENEWAL = "(query LIKE 'UPDATE partition_leases%' OR query LIKE '%count(*)%cluster_nodes%')"
FENCED_BATCH = "(query NOT LIKE '%partition_leases%' AND query NOT LIKE '%cluster_nodes%')"


def settled(cluster: Cluster, calm: float, timeout: float) -> None:
    """Wait until the partitions have kept the same holders for `calm` seconds: a cluster
    balanced a moment ago may still be moving partitions after the previous test's fault
    (a PostgreSQL restart), and a cut in the middle of a move tests the move, not the cut."""
    deadline = time.monotonic() + timeout
    seen, since = cluster.holders(), time.monotonic()
    while time.monotonic() - since < calm:
        assert time.monotonic() < deadline, f"the partitions kept moving for {timeout} s"
        time.sleep(0.2)
        now = cluster.holders()
        if now != seen:
            seen, since = now, time.monotonic()


def freeze_inside(cluster: Cluster, link: CuttableProxy, kind: str, tries: int = 200) -> str:
    """Freeze the link while the server holds open one of the node's transactions of `kind`
    that has written (so holds row locks), and return its last statement. A freeze that
    caught another transaction is undone at once (a blip the node rides out) and tried again."""
    for _ in range(tries):
        link.freeze(mid_transaction=True)
        wait_for(link.frozen_mid_transaction.is_set, 10, "the link to freeze mid-transaction")
        caught = cluster.rows(
            "SELECT query FROM pg_stat_activity WHERE client_port = ANY(:ports) "
            f"AND state = 'idle in transaction' AND backend_xid IS NOT NULL AND {kind}",
            ports=sorted(link.upstream_ports()),
        )
        if caught:
            return str(caught[0][0])
        link.restore()
    raise AssertionError(f"no freeze in {tries} caught a transaction {kind}")


@pytest.mark.parametrize("kind", [RENEWAL, FENCED_BATCH], ids=["in-a-renewal", "in-a-batch"])
def test_a_node_cut_from_postgresql_stops_before_another_claims_and_rejoins(
    cluster: Cluster, link: CuttableProxy, kind: str
) -> None:
    victim = cluster.nodes[PROXIED]
    lease = cluster.layout.lease_seconds
    service = fresh_service(cluster, PROXIED)
    opened = outage(cluster, service)
    settled(cluster, 2 * lease, 60)
    old = cluster.epochs(PROXIED)
    gave_up = len(victim.log_lines(GAVE_UP))
    frozen = freeze_inside(cluster, link, kind)
    print(f"frozen in the middle of: {frozen[:100]!r}")
    # it gives its partitions up itself, while its leases still stand in the database
    wait_for(lambda: len(victim.log_lines(GAVE_UP)) > gave_up, 2 * lease, "the give-up", 0.02)
    assert set(old) <= {p for p, n in cluster.holders().items() if n == PROXIED}
    others = [n for n in NAMES if n != PROXIED]
    took = waited(cluster, lambda: cluster.balanced(others), 6 * lease, "the others to take all")
    print(f"the others held every partition {took:.2f} s after the give-up (lease {lease} s)")
    wait_for(lambda: not overlaps(cluster, old, PROXIED), 3 * lease, "commits under new epochs")
    link.restore()
    waited(cluster, lambda: cluster.balanced(NAMES), 10 * lease, "the cut node to rejoin")
    assert victim.alive
    assert all(e > old.get(p, 0) for p, e in cluster.epochs(PROXIED).items())
    restored(cluster, service, opened)
    assert overlaps(cluster, old, PROXIED) == []  # nothing it held back committed late
