"""Fault injection with real node processes on a real PostgreSQL: pause, kill -9, cut link,
clean shutdown. Every node keeps writing fenced rows, so an audit of `cluster_writes` shows
whether any node committed with an epoch it no longer held."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from tests.cluster.proxy import CuttableProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4
LEASE = 3.0


class Node:
    def __init__(self, url: str, name: str, folder: Path, lease: float = LEASE) -> None:
        self.name = name
        self.log = folder / f"{name}.jsonl"
        self._out = self.log.open("w")
        self._err = (folder / f"{name}.err").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.node", url, name, str(PARTITIONS), str(lease)],
            cwd=ROOT,
            stdout=self._out,
            stderr=self._err,
        )

    def events(self) -> list[dict[str, object]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def epochs(self, kind: str = "claimed") -> dict[int, int]:
        found: dict[int, int] = {}
        for event in self.events():
            if event["event"] == kind:
                found.update({int(p): int(e) for p, e in event["partitions"].items()})  # type: ignore[attr-defined]
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
        self.process.wait(10)
        self._out.close()
        self._err.close()


@pytest.fixture
def db(cluster_url: str) -> Iterator[Engine]:
    engine = create_engine(cluster_url)
    yield engine
    engine.dispose()


@pytest.fixture
def start(cluster_url: str, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def factory(name: str, url: str | None = None, lease: float = LEASE) -> Node:
        nodes.append(Node(url or cluster_url, name, tmp_path, lease))
        return nodes[-1]

    yield factory
    for node in nodes:
        node.stop()


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def held_by(db: Engine, node: str) -> dict[int, int]:
    with db.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT partition, epoch FROM partition_leases "
                "WHERE holder = :n AND expires_at > (extract(epoch from clock_timestamp()) "
                "* 1000000)::bigint"
            ),
            {"n": node},
        ).all()
    return {int(p): int(e) for p, e in rows}


def db_now(db: Engine) -> object:
    with db.begin() as conn:
        return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def stale_writes(db: Engine, node: str, epochs: dict[int, int], since: object) -> int:
    """Rows `node` committed at or after `since` with the epochs it held before."""
    with db.begin() as conn:
        return sum(
            int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM cluster_writes WHERE node = :n AND partition = :p "
                        "AND epoch = :e AND at >= :since"
                    ),
                    {"n": node, "p": p, "e": e, "since": since},
                ).scalar_one()
            )
            for p, e in epochs.items()
        )


def writes_by(db: Engine, node: str) -> int:
    with db.begin() as conn:
        query = text("SELECT count(*) FROM cluster_writes WHERE node = :n")
        return int(conn.execute(query, {"n": node}).scalar_one())


def test_two_node_processes_split_the_partitions_evenly(
    db: Engine, start: Callable[..., Node]
) -> None:
    start("a")
    start("b")
    wait_for(lambda: len(held_by(db, "a")) == len(held_by(db, "b")) == PARTITIONS // 2, 15)
    assert set(held_by(db, "a")).isdisjoint(held_by(db, "b"))


def test_a_paused_node_commits_nothing_after_the_takeover(
    db: Engine, start: Callable[..., Node]
) -> None:
    a = start("a")
    wait_for(lambda: len(held_by(db, "a")) == PARTITIONS and writes_by(db, "a") > 0, 10)
    old = held_by(db, "a")
    os.kill(a.process.pid, signal.SIGSTOP)
    start("b")
    wait_for(lambda: len(held_by(db, "b")) == PARTITIONS, 4 * LEASE)
    taken = held_by(db, "b")
    assert all(taken[p] > old[p] for p in old)  # the epoch moved on at the takeover
    resumed_at = db_now(db)
    os.kill(a.process.pid, signal.SIGCONT)
    wait_for(lambda: any(e["event"] == "fenced" for e in a.events()), LEASE)
    assert stale_writes(db, "a", old, resumed_at) == 0
    # it rejoins as a follower: half of the partitions, under new epochs
    wait_for(lambda: len(held_by(db, "a")) == PARTITIONS // 2, 4 * LEASE)
    assert all(epoch > old[p] for p, epoch in held_by(db, "a").items())
    assert stale_writes(db, "a", old, resumed_at) == 0


def test_a_killed_node_is_taken_over_within_the_lease_time(
    db: Engine, start: Callable[..., Node]
) -> None:
    a = start("a")
    start("b")
    wait_for(lambda: len(held_by(db, "a")) == len(held_by(db, "b")) == PARTITIONS // 2, 15)
    os.kill(a.process.pid, signal.SIGKILL)
    took = wait_for(lambda: len(held_by(db, "b")) == PARTITIONS, 3 * LEASE)
    # the lease runs out, then b's next cycle (every lease/3) claims it
    assert took <= LEASE + LEASE / 3 + 1.0


def test_clean_shutdown_releases_at_once(db: Engine, start: Callable[..., Node]) -> None:
    a = start("a")
    start("b")
    wait_for(lambda: len(held_by(db, "a")) == len(held_by(db, "b")) == PARTITIONS // 2, 15)
    a.process.send_signal(signal.SIGTERM)
    assert a.process.wait(5) == 0
    with db.begin() as conn:
        free = conn.execute(
            text("SELECT count(*) FROM partition_leases WHERE holder IS NULL")
        ).scalar_one()
    assert free + len(held_by(db, "b")) == PARTITIONS and free > 0  # released, not expiring
    took = wait_for(lambda: len(held_by(db, "b")) == PARTITIONS, LEASE)
    assert took < LEASE  # well before a lease would have run out


def test_a_node_cut_from_the_database_gives_up_before_expiry_and_writes_nothing_after(
    cluster_url: str, db: Engine, start: Callable[..., Node]
) -> None:
    url = make_url(cluster_url)
    proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        a = start("a", through, lease=4.0)
        wait_for(lambda: len(held_by(db, "a")) == PARTITIONS and writes_by(db, "a") > 0, 10)
        old = held_by(db, "a")
        cut_at = db_now(db)
        proxy.cut()
        wait_for(lambda: bool(a.epochs("lost")), 8.0)
        # it stopped before the database would let anyone else claim
        assert held_by(db, "a") == old
        start("b")
        wait_for(lambda: len(held_by(db, "b")) == PARTITIONS, 12)
        proxy.restore()
        wait_for(lambda: len(held_by(db, "a")) == PARTITIONS // 2, 12)  # back, as a follower
        assert stale_writes(db, "a", old, cut_at) == 0
    finally:
        proxy.close()


def test_the_database_down_past_the_lease_then_back_the_node_reclaims_with_a_new_epoch(
    tmp_path: Path,
) -> None:
    from sqlalchemy.exc import OperationalError

    from agent.store.sql import SqlStore
    from tests.cluster.conftest import WRITES_TABLE
    from tests.cluster.private_postgres import PrivatePostgres, postgres_bin

    if postgres_bin() is None:
        pytest.skip("initdb/pg_ctl not installed (/usr/lib/postgresql/*/bin)")
    pg = PrivatePostgres()
    node: Node | None = None
    try:
        pg.start()
        store = SqlStore.open(pg.url)
        with store.transaction() as conn:
            conn.execute(text(WRITES_TABLE))
        store.close()
        db = create_engine(pg.url)
        node = Node(pg.url, "a", tmp_path)
        wait_for(lambda: len(held_by(db, "a")) == PARTITIONS and writes_by(db, "a") > 0, 15)
        before = held_by(db, "a")
        db.dispose()
        pg.stop()
        wait_for(lambda: set(node.epochs("lost")) == set(before), 2 * LEASE)  # gave up
        pg.start()

        def reclaimed() -> bool:
            try:
                now = held_by(db, "a")
            except OperationalError:
                return False
            return len(now) == PARTITIONS and all(now[p] > before[p] for p in before)

        wait_for(reclaimed, 6 * LEASE)
        mark = db_now(db)
        wait_for(lambda: writes_since(db, "a", mark) > 0, 2 * LEASE)  # it works again
        db.dispose()
    finally:
        if node is not None:
            node.stop()
        pg.remove()


def writes_since(db: Engine, node: str, since: object) -> int:
    with db.begin() as conn:
        query = text("SELECT count(*) FROM cluster_writes WHERE node = :n AND at >= :s")
        return int(conn.execute(query, {"n": node, "s": since}).scalar_one())
