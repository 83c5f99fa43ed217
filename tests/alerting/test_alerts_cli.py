"""`vigia alerts` and `vigia alerts ack` against a real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.cli import main
from agent.store.sql import SqlStore
from agent.store.url import database_url
from alerting import alert_store
from alerting.notification import AlertStatus, Notification
from alerting.outbox import Outbox
from alerting.state import AlertState

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def vigia(db: Path, *args: str) -> int:
    return main(["--catalog", str(ROOT / "catalog" / "services.yaml"), "--db", str(db), *args])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "v.db"
    store = SqlStore.open(database_url(str(path)))
    alert = AlertState(
        alert_id="ServiceDown/ssd",
        rule="ServiceDown",
        team="cco",
        service="ssd",
        check=None,
        active_since=T0,
        firing_since=T0,
        notified=True,
        labels={"alertname": "ServiceDown", "severity": "critical"},
        annotations={"summary": "Segurança Social Direta indisponível"},
    )
    alert_store.save_alerts(store, [alert], T0)
    note = Notification("ServiceDown/ssd", AlertStatus.FIRING, alert.labels, alert.annotations, T0)
    Outbox(store).enqueue([note], ["am"], T0)
    store.close()
    return path


def test_alerts_lists_state_delivery_and_acknowledgement(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vigia(db, "alerts", "--json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["alert_id"], row["state"], row["severity"]) == (
        "ServiceDown/ssd",
        "firing",
        "critical",
    )
    assert [(d["receiver"], d["state"]) for d in row["deliveries"]] == [("am", "pending")]
    assert row["acknowledged"] is None


def test_ack_is_recorded_for_the_agent_and_unknown_alerts_are_refused(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vigia(db, "alerts", "ack", "ServiceDown/ssd", "--author", "ana", "--comment", "DAD") == 0
    assert "acknowledged by ana" in capsys.readouterr().out
    store = SqlStore.open(database_url(str(db)))
    [ack] = alert_store.pending_acks(store)
    store.close()
    assert (ack.alert_id, ack.author, ack.comment) == ("ServiceDown/ssd", "ana", "DAD")
    assert vigia(db, "alerts", "ack", "Nope/x") == 2
    assert "no active alert 'Nope/x'" in capsys.readouterr().err
