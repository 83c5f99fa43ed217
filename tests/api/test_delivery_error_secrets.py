"""A failing receiver's error as the API shows it: named by origin, its URL secret masked."""

from __future__ import annotations

from alerting.delivery import DeliveryWorker
from alerting.outbox import Outbox
from alerting.receivers.base import Receiver
from alerting.receivers.webhook import WebhookReceiver
from checks.clock import SystemClock
from checks.yamlsource import parse
from tests.alerting.servers import HttpRecorder, notification
from tests.api.conftest import Running

HOOK_TOKEN = "api-T0KEN-path-5c2e"


async def test_alerts_api_shows_delivery_errors_without_the_receiver_secret(
    running: Running,
) -> None:
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    # the agent's own delivery worker would take this test's row first ("'hook' is not
    # configured"): it is stopped, and the test's worker, with the failing hook, delivers
    await running.agent.alerting.worker.aclose()
    data = parse('{p: "/hooks/${HOOK_TOKEN}"}', "vigia.yaml", {"HOOK_TOKEN": HOOK_TOKEN}).data
    assert isinstance(data, dict)
    outbox = Outbox(running.store, random_draw=lambda: 0.0)
    with HttpRecorder() as failing:
        failing.script.extend([500] * 3)
        receivers: dict[str, Receiver] = {"hook": WebhookReceiver("hook", failing.url + data["p"])}
        worker = DeliveryWorker(outbox, receivers, SystemClock())
        outbox.enqueue([notification("ServiceDown/portal")], ["hook"], SystemClock().now())
        assert await worker.run_once() == 0
        await worker.aclose()
    response = await running.client.get("/api/v1/alerts", headers=running.auth("viewer"))
    assert response.status_code == 200
    assert "'hook' (http://127.0.0.1:" in response.text and "answered 500" in response.text
    assert HOOK_TOKEN not in response.text
