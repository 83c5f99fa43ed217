"""The delivery worker against real webhook servers on loopback, with a SQLite outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.store.sql import SqlStore
from alerting.delivery import DeliveryWorker
from alerting.notification import AlertStatus
from alerting.outbox import Outbox, OutboxItem, OutboxState
from alerting.receivers.base import Receiver
from alerting.receivers.webhook import WebhookReceiver
from checks.clock import ManualClock, SystemClock
from tests.alerting.servers import T0, Blackhole, HttpRecorder, free_port, notification


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield Outbox(store, random_draw=lambda: 0.0)
    store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def _hook(name: str, url: str, timeout: float = 5.0) -> WebhookReceiver:
    return WebhookReceiver(name, url, timeout=timeout)


def _alerts(server: HttpRecorder) -> list[tuple[str, str]]:
    """(alert_id, status) of every notification the server received, in order."""
    return [
        (n["alert_id"], n["status"])
        for request in server.requests
        for n in json.loads(request.body)["notifications"]
    ]


async def test_run_once_delivers_everything_due_per_receiver(
    outbox: Outbox, clock: ManualClock
) -> None:
    with HttpRecorder() as cco, HttpRecorder() as soc:
        receivers: dict[str, Receiver] = {
            "cco": _hook("cco", cco.url),
            "soc": _hook("soc", soc.url),
        }
        worker = DeliveryWorker(outbox, receivers, clock, batch=2)
        outbox.enqueue([notification("a:1"), notification("a:2")], ["cco", "soc"], T0)
        assert await worker.run_once() == 4
        await worker.aclose()
    assert _alerts(cco) == _alerts(soc) == [("a:1", "firing"), ("a:2", "firing")]
    assert outbox.backlog() == 0 and worker.delivered == {"cco": 2, "soc": 2}
    assert [i.state for i in outbox.history("a:1")] == [OutboxState.DELIVERED] * 2


async def test_a_dead_receiver_delays_without_dropping_or_blocking_another(
    outbox: Outbox, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    with HttpRecorder() as alive:
        receivers: dict[str, Receiver] = {
            "dead": _hook("dead", f"http://127.0.0.1:{port}"),
            "alive": _hook("alive", alive.url),
        }
        worker = DeliveryWorker(outbox, receivers, clock)
        outbox.enqueue([notification()], ["dead", "alive"], T0)
        assert await worker.run_once() == 1
        assert worker.transient_errors == {"dead": 1} and outbox.backlog() == 1
        (waiting,) = outbox.due(T0 + timedelta(seconds=1))
        assert waiting.receiver == "dead" and "ConnectError" in waiting.last_error
        with HttpRecorder(port) as revived:
            clock.advance(1)
            assert await worker.run_once() == 1
        await worker.aclose()
    assert _alerts(revived) == _alerts(alive) == [("service-down:portal", "firing")]
    assert outbox.backlog() == 0 and worker.failed_total == 0


async def test_server_errors_are_retried_with_backoff_until_accepted(
    outbox: Outbox, clock: ManualClock
) -> None:
    with HttpRecorder() as server:
        server.script.extend([503, 502, 429])
        worker = DeliveryWorker(outbox, {"hook": _hook("hook", server.url)}, clock)
        outbox.enqueue([notification()], ["hook"], T0)
        waits = []
        while await worker.run_once() == 0:
            (row,) = outbox.history("service-down:portal")
            clock.advance(-0.001 + (wait := (row.next_attempt_at - clock.now()).total_seconds()))
            assert await worker.run_once() == 0  # not a moment early
            clock.advance(0.001)
            waits.append(wait)
        await worker.aclose()
    assert waits == [1, 2, 4] and worker.transient_errors_total == 3
    (row,) = outbox.history("service-down:portal")
    assert (row.state, row.attempts) == (OutboxState.DELIVERED, 4)
    assert "answered 429" in row.last_error  # the last failure stays visible


async def test_a_permanent_refusal_fails_the_row_and_calls_the_hook(
    outbox: Outbox, clock: ManualClock
) -> None:
    failures: list[OutboxItem] = []
    with HttpRecorder() as server:
        server.script.append(400)
        worker = DeliveryWorker(
            outbox, {"hook": _hook("hook", server.url)}, clock, on_permanent_failure=failures.append
        )
        outbox.enqueue([notification()], ["hook"], T0)
        assert await worker.run_once() == 0
        clock.advance(3600)
        assert await worker.run_once() == 0  # never retried
        await worker.aclose()
    assert len(server.requests) == 1 and worker.failed_total == 1
    assert [(f.receiver, f.state, f.attempts) for f in failures] == [
        ("hook", OutboxState.FAILED, 1)
    ]
    assert "answered 400" in failures[0].last_error
    (failed,) = outbox.failed_since(T0)
    assert "answered 400" in failed.last_error


async def test_one_refused_notification_does_not_fail_the_rest_of_its_batch(
    outbox: Outbox, clock: ManualClock
) -> None:
    with HttpRecorder() as server:
        server.script.extend([400, 200, 400])  # the batch, then one by one
        worker = DeliveryWorker(outbox, {"hook": _hook("hook", server.url)}, clock)
        outbox.enqueue([notification("a:good"), notification("a:bad")], ["hook"], T0)
        assert await worker.run_once() == 1
        await worker.aclose()
    assert outbox.history("a:good")[0].state is OutboxState.DELIVERED
    assert outbox.history("a:bad")[0].state is OutboxState.FAILED


async def test_a_resolved_is_never_delivered_before_its_firing(
    outbox: Outbox, clock: ManualClock
) -> None:
    with HttpRecorder() as server:
        server.script.append(503)
        worker = DeliveryWorker(outbox, {"hook": _hook("hook", server.url)}, clock)
        outbox.enqueue([notification()], ["hook"], T0)
        await worker.run_once()  # the firing fails: retry at T0 + 1 s
        clock.advance(0.5)
        resolved = notification(status=AlertStatus.RESOLVED, ends_at=clock.now())
        outbox.enqueue([resolved], ["hook"], clock.now())
        assert await worker.run_once() == 0  # the resolved waits behind its firing
        clock.advance(0.5)
        assert await worker.run_once() == 2
        await worker.aclose()
    assert _alerts(server) == [
        ("service-down:portal", "firing"),  # the refused attempt
        ("service-down:portal", "firing"),
        ("service-down:portal", "resolved"),
    ]


async def test_rows_for_a_receiver_no_longer_configured_fail_visibly(
    outbox: Outbox, clock: ManualClock
) -> None:
    failures: list[OutboxItem] = []
    worker = DeliveryWorker(outbox, {}, clock, on_permanent_failure=failures.append)
    outbox.enqueue([notification()], ["removed"], T0)
    assert await worker.run_once() == 0
    await worker.aclose()
    (failed,) = outbox.failed_since(T0)
    assert "'removed' is not configured" in failed.last_error and len(failures) == 1


async def test_a_hanging_receiver_does_not_hold_up_the_others_in_the_background(
    outbox: Outbox,
) -> None:
    with Blackhole() as hole, HttpRecorder() as alive:
        receivers: dict[str, Receiver] = {
            "hung": _hook("hung", hole.url, timeout=1.5),
            "alive": _hook("alive", alive.url),
        }
        worker = DeliveryWorker(outbox, receivers, SystemClock(), poll=0.05)
        clock = SystemClock()
        outbox.enqueue([notification("a:1")], ["hung", "alive"], clock.now())
        worker.start()
        async with asyncio.timeout(1):  # inside the hung receiver's 1.5 s timeout
            while len(alive.requests) < 1:
                await asyncio.sleep(0.02)
            outbox.enqueue([notification("a:2")], ["hung", "alive"], clock.now())
            worker.wake()
            while outbox.backlog_by_receiver() != {"hung": 2}:  # both delivered to "alive"
                await asyncio.sleep(0.02)
        assert _alerts(alive) == [("a:1", "firing"), ("a:2", "firing")]
        await worker.aclose()  # waits for the hung batch to time out, then keeps its rows
    assert outbox.backlog_by_receiver() == {"hung": 2} and worker.transient_errors == {"hung": 1}


async def test_closing_finishes_the_batch_in_flight(outbox: Outbox) -> None:
    with HttpRecorder(delay=0.3) as slow:
        worker = DeliveryWorker(outbox, {"slow": _hook("slow", slow.url)}, SystemClock(), poll=0.05)
        outbox.enqueue([notification()], ["slow"], SystemClock().now())
        worker.start()
        await asyncio.to_thread(slow.received.wait, 5)
        await worker.aclose()
    assert outbox.backlog() == 0 and worker.delivered_total == 1
