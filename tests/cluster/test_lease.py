"""Leases on a real PostgreSQL: claims, renewals, the fence, rebalancing (agent/cluster)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from agent.cluster import lease
from agent.cluster.errors import LeaseLostError, PartitionCountError
from agent.cluster.holdings import Holdings
from agent.cluster.lease import LeaseConfig
from agent.cluster.renewer import Renewer, renewer_engine
from agent.store import schema as t

pytestmark = pytest.mark.postgres


@pytest.fixture
def db(cluster_url: str) -> Iterator[Engine]:
    engine = create_engine(cluster_url)
    yield engine
    engine.dispose()


def _config(node: str, partitions: int = 8, lease_seconds: float = 15.0) -> LeaseConfig:
    return LeaseConfig(node=node, partitions=partitions, lease_seconds=lease_seconds)


def _join(db: Engine, config: LeaseConfig) -> dict[int, int]:
    with db.begin() as conn:
        lease.ensure_partitions(conn, config)
        lease.heartbeat(conn, config)
        share = lease.fair_share(config.partitions, lease.live_nodes(conn, config))
        return lease.claim(conn, config, share)


def _insert_fenced(db: Engine, config: LeaseConfig, partition: int, epoch: int) -> None:
    with db.begin() as conn:
        lease.assert_lease(conn, partition, config.node, epoch)
        conn.execute(
            text("INSERT INTO cluster_writes (partition, node, epoch) VALUES (:p, :n, :e)"),
            {"p": partition, "n": config.node, "e": epoch},
        )


def _writes(db: Engine) -> int:
    with db.begin() as conn:
        return int(conn.execute(text("SELECT count(*) FROM cluster_writes")).scalar_one())


def test_alone_a_node_claims_every_partition_at_epoch_one(db: Engine) -> None:
    claimed = _join(db, _config("a"))
    assert claimed == dict.fromkeys(range(8), 1)


def test_two_nodes_split_the_partitions_evenly_and_disjointly(db: Engine) -> None:
    a, b = _config("a"), _config("b")
    with db.begin() as conn:
        lease.ensure_partitions(conn, a)
        lease.heartbeat(conn, a)
        lease.heartbeat(conn, b)
    first = _join(db, a)
    second = _join(db, b)
    assert len(first) == len(second) == 4
    assert set(first).isdisjoint(second)


def test_concurrent_claims_skip_locked_rows_instead_of_waiting(db: Engine) -> None:
    a, b = _config("a"), _config("b")
    with db.begin() as conn:
        lease.ensure_partitions(conn, a)
    with db.connect() as one, db.connect() as two, one.begin():
        got_a = lease.claim(one, a, 4)  # rows locked until this transaction ends
        started = time.monotonic()
        with two.begin():
            got_b = lease.claim(two, b, 4)
        assert time.monotonic() - started < 1.0  # did not wait on a's locks
    assert len(got_a) == len(got_b) == 4
    assert set(got_a).isdisjoint(got_b)


def test_the_fence_refuses_an_old_epoch_and_nothing_is_committed(db: Engine) -> None:
    a, b = _config("a", lease_seconds=0.3), _config("b")
    epoch_a = _join(db, a)[0]
    _insert_fenced(db, a, 0, epoch_a)
    assert _writes(db) == 1
    time.sleep(0.4)  # a's lease expires (database time)
    with db.begin() as conn:
        taken = lease.claim(conn, b, 8)
    assert taken[0] > epoch_a
    with pytest.raises(LeaseLostError) as caught:
        _insert_fenced(db, a, 0, epoch_a)
    assert caught.value.partitions == (0,)
    assert _writes(db) == 1  # the refused transaction left no row
    _insert_fenced(db, b, 0, taken[0])
    assert _writes(db) == 2


def test_the_fence_refuses_an_expired_lease_even_before_a_takeover(db: Engine) -> None:
    a = _config("a", lease_seconds=0.2)
    epoch = _join(db, a)[3]
    time.sleep(0.3)
    with pytest.raises(LeaseLostError):
        _insert_fenced(db, a, 3, epoch)
    assert _writes(db) == 0


def test_a_fenced_transaction_blocks_a_takeover_until_it_ends(db: Engine) -> None:
    """The share lock: no claim can overtake a commit whose fence check passed."""
    a, b = _config("a", lease_seconds=0.3), _config("b")
    epoch = _join(db, a)[0]
    with db.connect() as conn, conn.begin():
        lease.assert_lease(conn, 0, "a", epoch)
        time.sleep(0.4)  # the lease expires while the transaction is open
        with db.begin() as other:
            assert 0 not in lease.claim(other, b, 8)  # skipped: locked by the fence
    with db.begin() as other:
        assert 0 in lease.claim(other, b, 8)


def test_renewal_extends_only_matching_unexpired_leases(db: Engine) -> None:
    a = _config("a", lease_seconds=0.3)
    held = _join(db, a)
    with db.begin() as conn:
        assert lease.renew(conn, a, held) == set(held)
        assert lease.renew(conn, a, {0: held[0] + 1}) == set()  # wrong epoch
    time.sleep(0.4)
    with db.begin() as conn:
        assert lease.renew(conn, a, held) == set()  # expired: lost, not revived


def test_epochs_strictly_increase_over_changes_of_holder(db: Engine) -> None:
    nodes = [_config(name, partitions=1, lease_seconds=0.1) for name in "abcab"]
    seen = []
    for config in nodes:
        time.sleep(0.15)
        seen.append(_join(db, config)[0])
    assert seen == sorted(set(seen)) and len(seen) == 5


def test_a_node_with_another_partition_count_is_refused(db: Engine) -> None:
    _join(db, _config("a", partitions=8))
    with pytest.raises(PartitionCountError, match=r"8 partitions .* configured with 4"):
        _join(db, _config("b", partitions=4))


def _renewer(url: str, node: str, partitions: int, lease_seconds: float) -> Renewer:
    config = _config(node, partitions, lease_seconds)
    return Renewer(
        renewer_engine(url, config), config, Holdings(time.monotonic), every=lease_seconds / 6
    )


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _holders(db: Engine) -> dict[str | None, int]:
    with db.begin() as conn:
        rows = conn.execute(
            select(t.partition_leases.c.holder, func.count()).group_by(t.partition_leases.c.holder)
        ).all()
    return {holder: int(count) for holder, count in rows}


def test_nodes_joining_and_leaving_move_only_their_share(cluster_url: str, db: Engine) -> None:
    renewers = [_renewer(cluster_url, "a", 64, 1.5)]
    renewers[0].start()
    try:
        _wait(lambda: len(renewers[0].holdings.valid()) == 64, 5)
        before = renewers[0].holdings.valid()
        for name in ("b", "c"):
            renewers.append(_renewer(cluster_url, name, 64, 1.5))
            renewers[-1].start()
        _wait(lambda: _holders(db).get(None, 0) == 0 and len(_holders(db)) == 3, 10)
        counts = sorted(len(r.holdings.valid()) for r in renewers)
        assert sum(counts) == 64 and counts[-1] - counts[0] <= 2  # 22, 22, 20
        kept = renewers[0].holdings.valid()
        assert len(set(before) - set(kept)) <= 64 - 20  # a gave up only the others' shares
        leaving = renewers.pop()
        leaving.stop()  # clean: its partitions are free at once, the others take them
        _wait(lambda: sum(len(r.holdings.valid()) for r in renewers) == 64, 5)
        assert sorted(len(r.holdings.valid()) for r in renewers) == [32, 32]
    finally:
        for renewer in renewers:
            renewer.stop()
    assert _holders(db) == {None: 64}  # clean shutdown released everything


def test_a_stopped_holders_partitions_are_claimed_when_its_lease_runs_out(
    cluster_url: str, db: Engine
) -> None:
    """Not up to one renewal interval later: the renewer here cycles every 30 s, so only a
    claim at the expiry it read from the lease rows can take the partitions within seconds."""
    gone = _config("gone", 8, 2.0)
    with db.begin() as conn:  # a holder that never renews (killed), and no heartbeat
        lease.ensure_partitions(conn, gone)
        assert len(lease.claim(conn, gone, 8)) == 8
    config = _config("survivor", 8, 2.0)
    survivor = Renewer(
        renewer_engine(cluster_url, config), config, Holdings(time.monotonic), every=30
    )
    started = time.monotonic()
    survivor.start()
    try:
        _wait(lambda: len(survivor.holdings.valid()) == 8, 6)
        assert time.monotonic() - started < 6
    finally:
        survivor.stop()


def test_cluster_status_lists_nodes_owners_epochs_and_lease_ages(
    cluster_url: str, db: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from agent.cli import main

    _join(db, _config("a", partitions=4))
    assert main(["--db", cluster_url, "cluster", "status", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(n["node"], n["live"]) for n in shown["nodes"]] == [("a", True)]
    assert [(p["holder"], p["epoch"]) for p in shown["partitions"]] == [("a", 1)] * 4
    assert all(0 < p["expires_in_seconds"] <= 15 for p in shown["partitions"])
    assert main(["--db", cluster_url, "cluster", "status"]) == 0
    assert "lease left" in capsys.readouterr().out


def test_cluster_status_on_sqlite_says_clustering_needs_postgresql(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    assert main(["--db", f"{tmp_path}/v.db", "cluster", "status"]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err


def test_the_renewer_connection_bounds_its_waits_and_keeps_the_url_options(
    cluster_url: str,
) -> None:
    from sqlalchemy import make_url

    url = make_url(cluster_url).update_query_dict({"options": "-csearch_path=elsewhere"})
    engine = renewer_engine(url.render_as_string(False), _config("a", lease_seconds=15))
    try:
        with engine.connect() as conn:
            shown = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("search_path", "statement_timeout", "lock_timeout")
            }
    finally:
        engine.dispose()
    assert shown == {"search_path": "elsewhere", "statement_timeout": "5s", "lock_timeout": "5s"}
