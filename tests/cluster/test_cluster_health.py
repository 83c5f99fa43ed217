"""What ClusterNodeDown and PartitionUnowned are judged on, read from the lease tables of a real
PostgreSQL database in database time (agent/cluster/health.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from agent.cluster import lease
from agent.cluster.health import read_health
from agent.cluster.lease import LeaseConfig

pytestmark = pytest.mark.postgres

CONFIG = LeaseConfig(node="judge", partitions=4, lease_seconds=10.0)
NOW = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"


@pytest.fixture
def db(cluster_url: str) -> Iterator[Engine]:
    engine = create_engine(cluster_url)
    with engine.begin() as conn:
        lease.ensure_partitions(conn, CONFIG)
    yield engine
    engine.dispose()


def node(db: Engine, name: str, silent: float, age: float) -> None:
    """A node row last seen `silent` seconds ago, started `age` seconds ago."""
    with db.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO cluster_nodes (node, started_at, last_seen, version) "
                f"VALUES (:n, {NOW} - :age, {NOW} - :silent, '')"
            ),
            {"n": name, "age": int(age * 1e6), "silent": int(silent * 1e6)},
        )


def lease_row(db: Engine, partition: int, holder: str | None, expires_in: float) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                f"UPDATE partition_leases SET holder = :h, epoch = epoch + 1, "
                f"expires_at = {NOW} + :d WHERE partition = :p"
            ),
            {"h": holder, "d": int(expires_in * 1e6), "p": partition},
        )


def test_a_node_silent_longer_than_the_lease_is_down_and_a_recent_one_is_not(db: Engine) -> None:
    node(db, "judge", silent=0, age=3600)
    node(db, "late", silent=9, age=3600)
    node(db, "dead", silent=11, age=3600)
    for p in range(4):
        lease_row(db, p, "judge", 10)
    with db.begin() as conn:
        health = read_health(conn, CONFIG)
    assert health.nodes_down == ("dead",)
    assert health.partitions_unowned == () and health.lease_seconds == 10.0


def test_a_partition_is_unowned_only_after_two_lease_times_without_a_live_lease(
    db: Engine,
) -> None:
    node(db, "judge", silent=0, age=3600)
    lease_row(db, 0, "judge", 10)
    lease_row(db, 1, "dead", -15)  # expired 15 s ago: a failover may still be under way
    lease_row(db, 2, "dead", -25)  # expired 25 s ago: nobody took it
    lease_row(db, 3, None, -21)  # released 21 s ago and not claimed since
    with db.begin() as conn:
        health = read_health(conn, CONFIG)
    assert health.partitions_unowned == (2, 3)


def test_time_before_the_oldest_live_node_started_does_not_count(db: Engine) -> None:
    """A cluster brought back after a night off: its partitions expired hours ago, but they
    have been without an owner only since a node was there to own them."""
    node(db, "judge", silent=0, age=5)
    lease_row(db, 0, "judge", 10)  # 1 to 3: never claimed since (epoch 0, expiry in 1970)
    with db.begin() as conn:
        assert read_health(conn, CONFIG).partitions_unowned == ()
    with db.begin() as conn:  # the judge has run for 30 s and still nobody claimed them
        conn.execute(text(f"UPDATE cluster_nodes SET started_at = {NOW} - 30000000"))
        assert read_health(conn, CONFIG).partitions_unowned == (1, 2, 3)
