"""The alerting service stores a notification and its alert's state in one transaction: a node
that dies right after the commit leaves "notified" for whoever reads the state next (a restart,
a cluster's new owner), which therefore neither notifies again nor resolves what it never saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.routing import AlertingConfig
from alerting.service import AlertingService
from checks.result import ProbeResult
from tests.alerting.servers import HttpRecorder
from tests.alerting.test_evaluator import LETTERS, Harness, with_tiers
from tests.engine.builders import at, catalog, service


def config(hook: HttpRecorder) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "receivers": [{"name": "hook", "type": "webhook", "url": f"{hook.url}/hook"}],
            "routes": [{"team": "*", "receivers": ["hook"]}],
        }
    )


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[AlertingService, Harness, SqlStore]]:
    """An alerting service of one service "svc" on a SQLite store, flushed only by hand."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    h = Harness(with_tiers(catalog(service("svc"))))
    with HttpRecorder() as hook:
        alerting = AlertingService(
            h.evaluator, store, config(hook), h.clock, flush_every=3600, tick_every=3600
        )
        await alerting.start()
        try:
            yield alerting, h, store
        finally:
            await alerting.aclose()
            store.close()


def observe(alerting: AlertingService, h: Harness, letters: str, start: int = 0) -> None:
    """Results of "svc/tcp" a minute apart (LETTERS: f fails, o is ok), through the engine."""
    for n, letter in enumerate(letters, start=start):
        h.clock.set(at(60 * n))
        reason = "" if letter == "o" else "refused"
        result = ProbeResult("svc/tcp", at(60 * n), 0.5, LETTERS[letter], reason)
        alerting.observe(result, h.engine.observe(result))


async def test_the_alert_state_is_stored_with_the_notification_not_at_the_next_tick(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (alerting, h, store):
        observe(alerting, h, "fff")
        await alerting.flush()  # no tick has run: only the flush wrote anything
        (row,) = [a for a in alert_store.load_alerts(store) if a.rule == "ServiceDown"]
        assert row.notified and row.firing_since is not None
        with store.transaction() as conn:
            queued = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        assert queued == 1
        observe(alerting, h, "ooo", start=3)  # the service recovers
        await alerting.flush()
        assert [a for a in alert_store.load_alerts(store) if a.rule == "ServiceDown"] == []
