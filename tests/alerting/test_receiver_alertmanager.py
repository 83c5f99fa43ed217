"""The Alertmanager receiver against a real Alertmanager (Debian `prometheus-alertmanager`)
on loopback, with a CCO and a SOC route, read back through its v2 API and `amtool`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.store.sql import SqlStore
from alerting.delivery import DeliveryWorker
from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.notification import AlertStatus
from alerting.outbox import Outbox
from alerting.receivers.alertmanager import AlertmanagerReceiver
from checks.clock import ManualClock
from tests.alerting.servers import (
    ALERTMANAGER,
    AMTOOL,
    Alertmanager,
    HttpRecorder,
    notification,
    with_label,
)

pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None,
    reason="prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)",
)


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    manager = Alertmanager(tmp_path)
    manager.start()
    yield manager
    manager.stop()


def _recent(minutes: float = 1) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


async def test_alerts_arrive_with_their_labels_on_the_route_of_their_team(
    am: Alertmanager,
) -> None:
    start = _recent()
    receiver = AlertmanagerReceiver("am", am.url)
    await receiver.send(
        [
            notification("service-down:portal", starts_at=start),
            notification(
                "tls-cert-changed:portal", team="soc", severity="warning", starts_at=start
            ),
        ]
    )
    await receiver.aclose()
    alerts = {a["labels"]["alertname"]: a for a in am.alerts()}
    down, cert = alerts["service-down"], alerts["tls-cert-changed"]
    assert down["labels"] == {
        "alertname": "service-down",
        "service": "portal",
        "tier": "platina",
        "team": "cco",
        "severity": "critical",
    }
    assert [r["name"] for r in down["receivers"]] == ["cco"]
    assert [r["name"] for r in cert["receivers"]] == ["soc"]
    assert down["annotations"]["summary"] == "portal is down"
    assert down["generatorURL"] == "http://vigia.example/incidents/portal"
    assert down["status"]["state"] == "active"
    assert down["startsAt"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_a_firing_alert_stays_active_for_the_firing_ttl(am: Alertmanager) -> None:
    receiver = AlertmanagerReceiver("am", am.url, firing_ttl=600)
    await receiver.send([notification(starts_at=_recent())])
    await receiver.aclose()
    (alert,) = am.alerts()
    ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
    assert timedelta(seconds=590) < ends - datetime.now(UTC) <= timedelta(seconds=600)


async def test_a_resolution_removes_the_alert_from_the_active_ones(am: Alertmanager) -> None:
    start = _recent(10)
    receiver = AlertmanagerReceiver("am", am.url)
    await receiver.send([notification(starts_at=start)])
    assert len(am.alerts(active="true")) == 1
    resolved = notification(
        status=AlertStatus.RESOLVED, starts_at=start, ends_at=_recent(0.1), duration_seconds=594
    )
    await receiver.send([resolved])
    await receiver.aclose()
    assert am.alerts() == []  # the v2 API lists unresolved alerts only


async def test_firing_then_resolved_in_one_batch_ends_resolved(am: Alertmanager) -> None:
    start = _recent(5)
    receiver = AlertmanagerReceiver("am", am.url)
    resolved = notification(status=AlertStatus.RESOLVED, starts_at=start, ends_at=_recent(0.1))
    other = notification("service-down:mail", service="mail", starts_at=start)
    await receiver.send([notification(starts_at=start), other, resolved])
    await receiver.aclose()
    assert [a["labels"]["service"] for a in am.alerts()] == ["mail"]


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")
async def test_amtool_sees_the_alert_by_its_labels(am: Alertmanager) -> None:
    receiver = AlertmanagerReceiver("am", am.url)
    await receiver.send([notification(starts_at=_recent())])
    await receiver.aclose()
    (alert,) = am.amtool_query("team=cco", "service=portal")
    assert alert["labels"]["severity"] == "critical"


async def test_an_invalid_alert_is_refused_permanently(am: Alertmanager) -> None:
    receiver = AlertmanagerReceiver("am", am.url)
    with pytest.raises(PermanentDeliveryError, match="answered 400"):
        await receiver.send([with_label(notification(), "bad-label-name", "x")])
    await receiver.aclose()


async def test_a_stopped_alertmanager_is_transient() -> None:
    receiver = AlertmanagerReceiver("am", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(TransientDeliveryError, match="ConnectError"):
        await receiver.send([notification()])
    await receiver.aclose()


async def test_the_post_goes_to_api_v2_alerts_under_the_base_path() -> None:
    with HttpRecorder() as server:
        receiver = AlertmanagerReceiver("am", f"{server.url}/alertmanager/")
        await receiver.send([notification()])
        await receiver.aclose()
    assert [r.path for r in server.requests] == ["/alertmanager/api/v2/alerts"]


async def test_alerts_queued_while_alertmanager_is_down_arrive_once_it_is_back(
    am: Alertmanager, tmp_path: Path
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    outbox = Outbox(store, random_draw=lambda: 0.0)
    clock = ManualClock(datetime.now(UTC))
    worker = DeliveryWorker(outbox, {"cco-am": AlertmanagerReceiver("cco-am", am.url)}, clock)
    try:
        am.stop()
        start = _recent()
        outbox.enqueue([notification(starts_at=start)], ["cco-am"], clock.now())
        outbox.enqueue(
            [notification("svc:mail", service="mail", starts_at=start)], ["cco-am"], clock.now()
        )
        assert await worker.run_once() == 0
        assert worker.transient_errors_total == 1 and outbox.backlog() == 2
        am.start()  # the same port
        clock.advance(1)
        assert await worker.run_once() == 2
    finally:
        await worker.aclose()
        store.close()
    assert sorted(a["labels"]["service"] for a in am.alerts()) == ["mail", "portal"]
    assert outbox.backlog() == 0
