"""The single writer: everything submitted is committed, in order, even through failures."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.records import Effect, ResultRecorded, ServiceStatus, ServiceStatusSaved, State
from agent.store.errors import WriterClosedError
from agent.store.sql import SqlStore
from agent.store.writer import StoreWriter
from checks.result import Outcome, ProbeResult

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def results(count: int, check: str = "web/http", first: int = 0) -> list[Effect]:
    return [
        ResultRecorded(ProbeResult(check, T0 + timedelta(seconds=i), 0.1, Outcome.OK))
        for i in range(first, first + count)
    ]


async def test_submitted_effects_are_all_stored_after_drain(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    writer = StoreWriter(store, max_batch=500, linger=0.01)
    writer.start()
    for i in range(30):
        writer.submit(results(100, first=i * 100))
    await writer.drain()
    assert len(store.results(limit=10_000)) == 3000
    assert writer.depth == 0
    assert writer.batches_total >= 6  # 3000 effects, at most 500 per transaction
    assert writer.errors_total == 0 and writer.last_write_seconds > 0
    await writer.aclose()


async def test_later_submissions_win_over_earlier_ones(open_store: Callable[..., SqlStore]) -> None:
    store = open_store()
    states = [State.UP, State.DOWN, State.DEGRADED, State.UP, State.DOWN]
    async with StoreWriter(store, max_batch=1, linger=0) as writer:  # one batch per submission
        for i, state in enumerate(states):
            status = ServiceStatus("web", state, T0 + timedelta(seconds=i), None)
            writer.submit([ServiceStatusSaved(status)])
        await writer.drain()
    assert store.service_statuses()["web"].state == State.DOWN
    assert store.service_statuses()["web"].since == T0 + timedelta(seconds=4)


async def test_submit_never_waits_for_the_database(open_store: Callable[..., SqlStore]) -> None:
    writer = StoreWriter(open_store())  # not started: nothing consumes the queue yet
    writer.submit(results(10))
    writer.submit(results(5, first=10))
    assert writer.depth == 15
    await writer.aclose()  # starts, drains and stops
    assert writer.depth == 0


async def test_a_closed_writer_refuses_effects(open_store: Callable[..., SqlStore]) -> None:
    writer = StoreWriter(open_store())
    await writer.aclose()
    with pytest.raises(WriterClosedError, match="1 effects refused"):
        writer.submit(results(1))


async def test_a_locked_database_delays_a_batch_but_does_not_lose_it(tmp_path: Path) -> None:
    path = tmp_path / "vigia.db"
    store = SqlStore.open(f"sqlite:///{path}", busy_timeout=0.02)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        writer = StoreWriter(store, linger=0, retry_initial=0.01, retry_max=0.05)
        writer.start()
        web, api = results(3), results(2, check="api/http")
        writer.submit(web)
        writer.submit(api)
        while writer.errors_total < 2:
            await asyncio.sleep(0.01)
        assert store.results() == [] and writer.depth == 5
        blocker.execute("COMMIT")
        await asyncio.wait_for(writer.drain(), timeout=5)
        stored = {(s.result.check, s.result.started_at) for s in store.results()}
        submitted = {(e.result.check, e.result.started_at) for e in [*web, *api]}  # type: ignore[union-attr]
        assert stored == submitted and writer.depth == 0
        await writer.aclose()
    finally:
        blocker.close()
        store.close()


class SlowStore(SqlStore):
    """The real store on a database that takes 20 ms per transaction (a busy server)."""

    def apply(self, effects: Any, fence: Any = None) -> None:
        time.sleep(0.02)
        super().apply(effects, fence)


async def test_a_drain_waits_for_what_was_submitted_not_for_an_idle_writer(
    store_url: str,
) -> None:
    """Probe workers' batches arrive back to back, each acknowledged after its drain: a drain
    that waited for an empty queue would wait until the inflow paused."""
    store = SlowStore.open(store_url)
    stop = asyncio.Event()
    writer = StoreWriter(store, max_batch=200, linger=0.01)
    writer.start()

    async def inflow() -> None:
        first = 1000
        while not stop.is_set():  # a submission every 5 ms, a commit every 20: never idle
            writer.submit(results(5, check="other/http", first=first))
            first += 5
            await asyncio.sleep(0.005)

    feeder = asyncio.create_task(inflow())
    try:
        await asyncio.sleep(0.1)
        writer.submit(results(20))
        started = time.perf_counter()
        await asyncio.wait_for(writer.drain(), timeout=5)
        took = time.perf_counter() - started
        assert len(store.results(check="web/http")) == 20
        assert writer.depth > 0 and not feeder.done()  # later ones were not waited for
        assert took < 1.0  # a few 20 ms commits
    finally:
        stop.set()
        await feeder
        await writer.aclose()
        store.close()
    assert writer.depth == 0
