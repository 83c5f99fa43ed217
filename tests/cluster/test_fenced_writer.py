"""The store writer with the fence (agent/cluster/fencing.py) on a real PostgreSQL: effects of a
partition this node no longer holds are never committed; the others are."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from agent.cluster import lease
from agent.cluster.fencing import Fencing, service_of
from agent.cluster.holdings import Holdings
from agent.cluster.lease import LeaseConfig
from agent.cluster.partitions import partition_of
from agent.records import Effect, ResultRecorded
from agent.store.sql import SqlStore
from agent.store.writer import StoreWriter
from checks.result import Outcome, ProbeResult

pytestmark = pytest.mark.postgres

PARTITIONS = 8
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _two_services() -> tuple[str, str]:
    """Two services in different partitions (found by the hash itself, not hard-coded)."""
    first = "svc-0"
    for n in range(1, 100):
        if partition_of(f"svc-{n}", PARTITIONS) != partition_of(first, PARTITIONS):
            return first, f"svc-{n}"
    raise AssertionError("no second partition among 100 services")


def _results(service: str, count: int, start: int = 0) -> list[Effect]:
    return [
        ResultRecorded(ProbeResult(f"{service}/http", T0 + timedelta(seconds=start + i), 0.1,
                                   Outcome.OK))
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def store(cluster_url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(cluster_url)
    yield opened
    opened.close()


def _stored(store: SqlStore, service: str) -> int:
    with store.transaction() as conn:
        query = text("SELECT count(*) FROM probe_results WHERE service = :s")
        return int(conn.execute(query, {"s": service}).scalar_one())


def _owner(store: SqlStore, config: LeaseConfig, holdings: Holdings) -> dict[int, int]:
    with store.transaction() as conn:
        lease.ensure_partitions(conn, config)
        claimed = lease.claim(conn, config, PARTITIONS)
    holdings.extend(claimed, time.monotonic() + 3600)  # locally: "held" for an hour
    return claimed


async def test_a_batch_of_a_partition_taken_over_commits_nothing(store: SqlStore) -> None:
    kept, taken = _two_services()
    holdings = Holdings(time.monotonic)
    epochs = _owner(store, LeaseConfig("a", PARTITIONS), holdings)
    writer = StoreWriter(store, linger=0.0, fencing=Fencing("a", PARTITIONS, holdings))
    async with writer:
        writer.submit(_results(kept, 3))
        writer.submit(_results(taken, 3))
        await writer.drain()
        assert (_stored(store, kept), _stored(store, taken)) == (3, 3)
        # `taken`'s lease runs out in the database and b claims it, while a still believes it
        # holds it (its local deadline is an hour away): the fence in the database must stop it
        lost = partition_of(taken, PARTITIONS)
        with store.transaction() as conn:
            conn.execute(text("UPDATE partition_leases SET expires_at = 0 WHERE partition = :p"),
                         {"p": lost})  # fmt: skip
            assert lease.claim(conn, LeaseConfig("b", PARTITIONS), PARTITIONS) == {
                lost: epochs[lost] + 1
            }
        writer.submit(_results(kept, 3, start=10))
        writer.submit(_results(taken, 3, start=10))
        await writer.drain()
    assert _stored(store, taken) == 3  # nothing after the takeover
    assert _stored(store, kept) == 6  # the rest of the batch was committed
    assert writer.fenced_total == 3
    # ... and the three results are not lost: they wait for b, the new owner
    waiting = store.pending_results([lost])
    assert sorted(r.started_at for _id, _loc, r in waiting) == [
        T0 + timedelta(seconds=10 + i) for i in range(3)
    ]


async def test_a_partition_given_up_locally_is_not_even_sent(store: SqlStore) -> None:
    kept, dropped = _two_services()
    holdings = Holdings(time.monotonic)
    _owner(store, LeaseConfig("a", PARTITIONS), holdings)
    holdings.drop([partition_of(dropped, PARTITIONS)])
    writer = StoreWriter(store, linger=0.0, fencing=Fencing("a", PARTITIONS, holdings))
    async with writer:
        writer.submit(_results(dropped, 2))
        writer.submit(_results(kept, 2))
        await writer.drain()
    assert (_stored(store, kept), _stored(store, dropped)) == (2, 0)
    assert writer.fenced_total == 2


def test_every_effect_names_its_service() -> None:
    (effect,) = _results("svc-9", 1)
    assert service_of(effect) == "svc-9"
