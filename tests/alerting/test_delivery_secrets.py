"""Failing receivers whose URLs hold `${NAME}` secrets: the value is printed nowhere."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.store.sql import SqlStore
from alerting.delivery import DeliveryWorker
from alerting.outbox import Outbox
from alerting.receivers.alertmanager import AlertmanagerReceiver
from alerting.receivers.base import Receiver
from alerting.receivers.webhook import WebhookReceiver
from checks.clock import ManualClock
from checks.secrets import install_log_filter
from checks.yamlsource import parse
from tests.alerting.servers import T0, HttpRecorder, free_port, notification

HOOK_TOKEN = "T0KEN-in-the-path-91f3"
AM_PASS = "am-Passw0rd-77"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Path, Outbox]]:
    path = tmp_path / "vigia.db"
    store = SqlStore.open(f"sqlite:///{path}")
    yield path, Outbox(store, random_draw=lambda: 0.0)
    store.close()


def _receivers(hook_base: str) -> dict[str, Receiver]:
    # resolved as the settings loader resolves them, which registers the values in the mask
    data = parse(
        '{hook: "/hooks/${HOOK_TOKEN}", am: "http://user:${AM_PASS}@127.0.0.1"}',
        "vigia.yaml",
        {"HOOK_TOKEN": HOOK_TOKEN, "AM_PASS": AM_PASS},
    ).data
    assert isinstance(data, dict)
    return {
        "hook": WebhookReceiver("hook", hook_base + data["hook"], timeout=2.0),
        "am": AlertmanagerReceiver("am", f"{data['am']}:{free_port()}", timeout=2.0),
    }


async def test_receiver_url_secrets_reach_neither_log_nor_outbox_rows(
    db: tuple[Path, Outbox], caplog: pytest.LogCaptureFixture
) -> None:
    path, outbox = db
    caplog.set_level(logging.DEBUG)
    install_log_filter()  # as `vigia` installs it on the root handlers
    with HttpRecorder() as failing:
        failing.script.extend([500] * 5)
        worker = DeliveryWorker(outbox, _receivers(failing.url), ManualClock(T0))
        outbox.enqueue([notification("a:1")], ["hook", "am"], T0)
        assert await worker.run_once() == 0
        await worker.aclose()
    assert failing.requests and HOOK_TOKEN in failing.requests[0].path  # it did use the secret
    rows = [r.last_error for r in outbox.history("a:1")]
    assert any("'hook' (http://127.0.0.1:" in e and "answered 500" in e for e in rows), rows
    assert any(e.startswith("'am' (http://127.0.0.1:") for e in rows), rows
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for secret in (HOOK_TOKEN, AM_PASS):
        assert secret not in caplog.text
        assert secret not in dump
        assert secret not in "\n".join(rows)
