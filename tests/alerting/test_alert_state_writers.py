"""Two writers of one alert's state at once (the flush and the tick of one node, or the old and
the new owner of a partition at a handover) on real PostgreSQL: the second commits the newest
state instead of failing on the key; and a flush the store refuses keeps its notifications for
the next flush instead of dropping them (a lost ServiceDown is a blind CCO)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.evaluator import AlertState
from alerting.service import AlertingService
from checks.result import ProbeResult
from tests.alerting.servers import HttpRecorder
from tests.alerting.test_evaluator import LETTERS, Harness, with_tiers
from tests.alerting.test_service_state import config
from tests.engine.builders import at, catalog, service
from tests.store.conftest import POSTGRES_ENV, _postgres_schema


@pytest.fixture
def postgres_store() -> Iterator[SqlStore]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    for url in _postgres_schema(base):
        store = SqlStore.open(url)
        try:
            yield store
        finally:
            store.close()


def alert(sequence: int) -> AlertState:
    since = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    return AlertState(
        "ServiceDown/svc", "ServiceDown", "cco", "svc", None, since, since, True, sequence=sequence
    )


def waiting_for_a_lock(store: SqlStore) -> bool:
    with store.transaction() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return int(conn.execute(text(query)).scalar_one()) > 0


@pytest.mark.postgres
def test_a_second_writer_of_the_same_alert_replaces_the_row_instead_of_failing(
    postgres_store: SqlStore,
) -> None:
    store = postgres_store
    now = datetime(2026, 12, 4, 3, 1, tzinfo=UTC)
    alert_store.save_alerts(store, [alert(1)], now)
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            alert_store.save_alerts(store, [alert(3)], now)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    with store.transaction(write=True) as first:
        alert_store.write_alerts(first, [alert(2)], now)  # old row deleted, new one inserted
        writer = threading.Thread(target=second_writer)
        writer.start()
        deadline = time.monotonic() + 10
        while not waiting_for_a_lock(store):  # the second DELETE waits on the first's row
            assert time.monotonic() < deadline, "the second writer never waited on the first"
            time.sleep(0.02)
    writer.join(10)
    assert errors == []
    (stored,) = alert_store.load_alerts(store)
    assert stored.sequence == 3


async def test_a_flush_the_store_refuses_is_sent_at_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    h = Harness(with_tiers(catalog(service("svc"))))
    with HttpRecorder() as hook:
        alerting = AlertingService(
            h.evaluator, store, config(hook), h.clock, flush_every=3600, tick_every=3600
        )
        await alerting.start()
        try:
            for n, letter in enumerate("fff"):
                h.clock.set(at(60 * n))
                result = ProbeResult("svc/tcp", at(60 * n), 0.5, LETTERS[letter], "refused")
                alerting.observe(result, h.engine.observe(result))
            real = alerting.outbox.enqueue_routed

            def refused(*args: object, **kwargs: object) -> int:
                raise OperationalError("INSERT INTO outbox", {}, Exception("disk I/O error"))

            monkeypatch.setattr(alerting.outbox, "enqueue_routed", refused)
            with pytest.raises(OperationalError):
                await alerting.flush()
            monkeypatch.setattr(alerting.outbox, "enqueue_routed", real)
            await alerting.flush()
            with store.transaction() as conn:
                queued = conn.execute(text("SELECT alert_id, status FROM outbox ORDER BY id")).all()
            assert [tuple(row) for row in queued] == [("ServiceDown/svc", "firing")]
        finally:
            await alerting.aclose()
            store.close()
