"""Running agents as cluster nodes on one real PostgreSQL database (semantics.md §9): results of
another node's partition wait in the database and are judged once by the owner; an open
incident continues on the new owner with its id and start; only the owner notifies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from agent.api.auth import hash_token, new_token
from agent.catalog.loader import load
from agent.cluster.partitions import partition_of
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import ClusterSettings, Settings, TokenEntry
from agent.store.sql import SqlStore
from alerting.routing import AlertingConfig
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult
from tests.alerting.servers import HttpRecorder

pytestmark = pytest.mark.postgres

VIEWER = new_token()
OPERATOR = new_token()
PARTITIONS = 4
LEASE = 2.0
SERVICES = [f"svc-{n}" for n in range(8)]
CATALOG = "version: 1\ndefaults: {interval: 1h, timeout: 5s, confirm_down: 2, confirm_up: 1}\n"
CATALOG += "services:\n" + "".join(
    f"  - {{id: {s}, name: {s}, macro_service: comunicacoes, tier: bronze,"
    f" checks: [{{name: beat, heartbeat: {{max_silence: 1h}}}}]}}\n"
    for s in SERVICES
)


@dataclass
class Node:
    agent: Agent
    task: asyncio.Task[None]
    store: SqlStore

    def owned(self) -> set[int]:
        cluster = self.agent.cluster
        return set() if cluster is None else cluster.member.owned_valid()

    async def stop(self) -> None:
        self.agent.stop.set()
        await self.task
        self.store.close()


StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def start_node(cluster_url: str, tmp_path: Path) -> AsyncIterator[StartNode]:
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    nodes: list[Node] = []

    async def start(name: str, alerting: AlertingConfig | None = None) -> Node:
        cluster = ClusterSettings(node=name, partitions=PARTITIONS, lease_seconds=LEASE)
        settings = Settings(
            catalog=str(path),
            db=cluster_url,
            cluster=cluster,
            alerting=alerting or AlertingConfig(),
            tokens=(
                TokenEntry(name="viewer", role="viewer", hash=hash_token(VIEWER)),
                TokenEntry(name="duty", role="operator", hash=hash_token(OPERATOR)),
            ),
        )
        store = SqlStore.open(cluster_url)
        agent = Agent(settings, load(path), store, SystemClock(), serve_http=False)
        node = Node(agent, asyncio.create_task(agent.run()), store)
        nodes.append(node)
        await asyncio.wait_for(agent.started.wait(), 10)
        return node

    yield start
    for node in nodes:
        if not node.task.done():
            await node.stop()


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def result(service: str, at: datetime, outcome: Outcome = Outcome.FAIL) -> ProbeResult:
    reason = "no heartbeat" if outcome is Outcome.FAIL else ""
    return ProbeResult(f"{service}/beat", at, 0.01, outcome, reason)


def count(store: SqlStore, sql: str, **params: object) -> int:
    with store.transaction() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def service_in(partitions: set[int]) -> str:
    return next(s for s in SERVICES if partition_of(s, PARTITIONS) in partitions)


async def test_a_result_taken_by_another_node_waits_for_the_owner_and_is_judged_once(
    start_node: StartNode,
) -> None:
    a = await start_node("a")
    await until(lambda: len(a.owned()) == PARTITIONS)
    b = await start_node("b")
    await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
    service = service_in(b.owned())
    at = datetime.now(UTC).replace(microsecond=0)
    a.agent.observe(result(service, at), "heartbeat")  # a worker posted it to node a
    await a.agent.writer.drain()
    await until(lambda: count(b.store, "SELECT count(*) FROM pending_results") == 0)
    stored = "SELECT count(*) FROM probe_results WHERE service = :s"
    assert count(b.store, stored, s=service) == 1
    assert b.agent.engine.check_status(f"{service}/beat").last_result_at == at
    assert a.agent.engine.check_status(f"{service}/beat").last_result_at is None


async def test_an_open_incident_continues_on_the_new_owner_with_its_id_and_start(
    start_node: StartNode,
) -> None:
    a = await start_node("a")
    await until(lambda: len(a.owned()) == PARTITIONS)
    service = SERVICES[0]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    for n in range(2):  # confirm_down 2: an incident from t0
        a.agent.observe(result(service, t0 + timedelta(seconds=10 * n)), "heartbeat")
    opened = a.agent.engine.open_incident(service)
    assert opened is not None and opened.started_at == t0
    b = await start_node("b")
    await a.stop()  # a clean shutdown releases every partition at once
    await until(lambda: len(b.owned()) == PARTITIONS)
    carried = b.agent.engine.open_incident(service)
    assert carried is not None
    assert (carried.id, carried.started_at) == (opened.id, t0)
    b.agent.observe(result(service, t0 + timedelta(seconds=20)), "heartbeat")
    b.agent.observe(result(service, t0 + timedelta(seconds=30), Outcome.OK), "heartbeat")
    await b.agent.writer.drain()
    (closed,) = b.store.incidents(service=service)
    assert (closed.id, closed.started_at) == (opened.id, t0)
    assert closed.ended_at == t0 + timedelta(seconds=30)


async def test_a_new_incident_on_another_node_never_reuses_an_id(start_node: StartNode) -> None:
    a = await start_node("a")
    await until(lambda: len(a.owned()) == PARTITIONS)
    b = await start_node("b")
    await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    for node in (a, b):
        for service in [s for s in SERVICES if partition_of(s, PARTITIONS) in node.owned()]:
            for n in range(2):
                node.agent.observe(result(service, t0 + timedelta(seconds=n)), "heartbeat")
        await node.agent.writer.drain()
    ids = [i.id for i in a.store.incidents()]
    assert len(ids) == len(SERVICES) == len(set(ids))


def receivers(hook: HttpRecorder, alertmanager: HttpRecorder) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "receivers": [
                {"name": "hook", "type": "webhook", "url": f"{hook.url}/hook"},
                {"name": "am", "type": "alertmanager", "urls": [alertmanager.url]},
            ],
            "routes": [{"team": "*", "receivers": ["hook", "am"]}],
        }
    )


def posts(recorder: HttpRecorder, alert_id: str) -> int:
    return sum(alert_id.encode() in r.body for r in recorder.requests)


async def test_a_firing_alert_is_notified_once_and_resent_to_alertmanager_by_the_new_owner(
    start_node: StartNode,
) -> None:
    service = SERVICES[0]
    with HttpRecorder() as hook, HttpRecorder() as alertmanager:
        config = receivers(hook, alertmanager)
        a = await start_node("node-alpha", config)
        await until(lambda: len(a.owned()) == PARTITIONS)
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
        for n in range(2):
            a.agent.observe(result(service, t0 + timedelta(seconds=n)), "heartbeat")
        await until(lambda: posts(hook, f"ServiceDown/{service}") == 1)
        await until(lambda: posts(alertmanager, service) == 1)
        (fired,) = [r for r in alertmanager.requests if service.encode() in r.body]
        b = await start_node("node-beta", config)
        await a.stop()
        await until(lambda: len(b.owned()) == PARTITIONS)
        await until(lambda: posts(alertmanager, service) == 2)  # the new owner's resend
        await asyncio.sleep(1.5)  # time for a wrong second webhook delivery to show
        assert posts(hook, f"ServiceDown/{service}") == 1
        resent = [r for r in alertmanager.requests if service.encode() in r.body][-1]
        for body in (fired.body, resent.body):  # labels never name a node: AM merges them
            assert b"node-alpha" not in body and b"node-beta" not in body
    alert = b.agent.alerting.evaluator.alerts[f"ServiceDown/{service}"]
    assert alert.state == "firing"


async def test_the_api_lists_nodes_partitions_owners_and_epochs(start_node: StartNode) -> None:
    a = await start_node("node-alpha")
    await until(lambda: len(a.owned()) == PARTITIONS)
    b = await start_node("node-beta")
    await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
    app = create_app(b.agent.registry, b.agent.health, agent=b.agent)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        reply = await client.get("/api/v1/cluster", headers={"Authorization": f"Bearer {VIEWER}"})
    assert reply.status_code == 200
    body = reply.json()
    assert [(n["node"], n["live"]) for n in body["nodes"]] == [
        ("node-alpha", True),
        ("node-beta", True),
    ]
    holders = {p["partition"]: p["holder"] for p in body["partitions"]}
    assert sorted(holders.values()) == ["node-alpha"] * 2 + ["node-beta"] * 2
    assert body["this_node"] == "node-beta" and body["owned"] == sorted(b.owned())
    moved = [p for p in body["partitions"] if p["holder"] == "node-beta"]
    assert all(p["epoch"] == 2 and p["expires_in_seconds"] > 0 for p in moved)


def dead_node(store: SqlStore, name: str) -> None:
    """A node row as a node killed a minute ago leaves it (heartbeat long past the lease)."""
    now = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
    with store.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO cluster_nodes (node, started_at, last_seen, version) "
                f"VALUES (:n, {now} - 3600000000, {now} - 60000000, '')"
            ),
            {"n": name},
        )


async def test_cluster_node_down_is_notified_once_by_the_judge_and_carried_over(
    start_node: StartNode,
) -> None:
    """The holder of partition 0 judges the cluster rules; the other node stays quiet. When
    partition 0 changes hands the alert goes on: Alertmanager gets it again, the webhook not."""
    alert_id = "ClusterNodeDown@node-gone"
    with HttpRecorder() as hook, HttpRecorder() as alertmanager:
        config = receivers(hook, alertmanager)
        a = await start_node("node-alpha", config)
        await until(lambda: len(a.owned()) == PARTITIONS)
        b = await start_node("node-beta", config)
        await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
        judge, other = (a, b) if 0 in a.owned() else (b, a)
        dead_node(a.store, "node-gone")

        async def ticked() -> bool:
            for node in (judge, other):
                await node.agent.alerting.tick()
            return posts(hook, alert_id) > 0

        deadline = time.monotonic() + 10
        while not await ticked():
            assert time.monotonic() < deadline, "ClusterNodeDown was not notified"
            await asyncio.sleep(0.2)
        await until(lambda: posts(alertmanager, "node-gone") == 1)  # AM: labels, no id
        assert alert_id not in other.agent.alerting.evaluator.alerts
        (fired,) = [r for r in hook.requests if alert_id.encode() in r.body]
        assert b'"node": "node-gone"' in fired.body or b'"node":"node-gone"' in fired.body
        await judge.stop()  # partition 0 goes to the other node, which judges from now on
        await until(lambda: 0 in other.owned())
        await until(lambda: posts(alertmanager, "node-gone") == 2)  # the new judge's resend
        for _ in range(3):
            await other.agent.alerting.tick()
            await asyncio.sleep(0.5)
        assert posts(hook, alert_id) == 1
        assert other.agent.alerting.evaluator.alerts[alert_id].state == "firing"
        with other.store.transaction() as conn:  # the node comes back
            conn.execute(text("DELETE FROM cluster_nodes WHERE node = 'node-gone'"))

        async def resolved() -> bool:
            await other.agent.alerting.tick()
            return posts(hook, alert_id) == 2

        deadline = time.monotonic() + 10
        while not await resolved():
            assert time.monotonic() < deadline, "ClusterNodeDown did not resolve"
            await asyncio.sleep(0.2)
        assert b"resolved" in hook.requests[-1].body
        # the new judge went on counting the alert's notifications: the resolution is the
        # second one, whatever node sends it (the sequence is in the idempotency key)
        (closing,) = [
            n
            for r in hook.requests
            for n in json.loads(r.body)["notifications"]
            if n["alert_id"] == alert_id and n["status"] == "resolved"
        ]
        assert closing["sequence"] == 2


async def test_operator_writes_on_any_node_reach_the_owner(start_node: StartNode) -> None:
    """Acknowledgements, annotations and maintenance windows made through the API of a node
    that does not own the service go through the database to the node that does."""
    with HttpRecorder() as hook, HttpRecorder() as alertmanager:
        config = receivers(hook, alertmanager)
        a = await start_node("node-alpha", config)
        await until(lambda: len(a.owned()) == PARTITIONS)
        b = await start_node("node-beta", config)
        await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
        down, planned = [s for s in SERVICES if partition_of(s, PARTITIONS) in b.owned()][:2]
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
        for n in range(2):
            b.agent.observe(result(down, t0 + timedelta(seconds=n)), "heartbeat")
        alert_id = f"ServiceDown/{down}"
        await until(lambda: posts(hook, alert_id) == 1)
        incident = b.agent.engine.open_incident(down)
        assert incident is not None
        app = create_app(a.agent.registry, a.agent.health, agent=a.agent)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {OPERATOR}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as client:
            ack = await client.post(f"/api/v1/alerts/{alert_id}/ack", json={"comment": "on it"})
            note = await client.post(
                f"/api/v1/incidents/{incident.id}/annotations",
                json={"field": "cause", "text": "disk full"},
            )
            start = datetime.now(UTC) + timedelta(seconds=1)
            window = await client.post(
                "/api/v1/maintenance",
                json={
                    "service": planned,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "reason": "patching",
                },
            )
        assert (ack.status_code, note.status_code, window.status_code) == (202, 201, 201)
        for node in (a, b):  # both tick; only the owner applies the acknowledgement
            await node.agent.alerting.tick()
        acked = b.agent.alerting.evaluator.alerts[alert_id]
        assert (acked.acked_by, acked.ack_comment) == ("duty", "on it")
        applied = "SELECT count(*) FROM alert_acks WHERE applied_at IS NOT NULL"
        assert count(b.store, applied) == 1
        (stored,) = [n for n in b.store.annotations(incident.id)]
        assert (stored.field, stored.text, stored.author) == ("cause", "disk full", "duty")
        await b.agent._refresh_windows()  # what its 30 s refresh does, now
        await asyncio.sleep(1.2)  # the window has begun
        assert b.agent.calendar.in_planned(planned, datetime.now(UTC))
        at = datetime.now(UTC).replace(microsecond=0)
        for n in range(2):
            b.agent.observe(result(planned, at + timedelta(milliseconds=n)), "heartbeat")
        await asyncio.sleep(1.0)
        assert posts(hook, f"ServiceDown/{planned}") == 0  # planned maintenance: not notified
        assert b.agent.alerting.evaluator.alerts[f"ServiceDown/{planned}"].suppressed == (
            "maintenance"
        )


async def test_a_beat_taken_by_any_node_reaches_the_heartbeat_checks_owner(
    start_node: StartNode,
) -> None:
    a = await start_node("node-alpha")
    await until(lambda: len(a.owned()) == PARTITIONS)
    b = await start_node("node-beta")
    await until(lambda: len(a.owned()) == 2 and len(b.owned()) == 2)
    service = service_in(b.owned())
    app = create_app(a.agent.registry, a.agent.health, agent=a.agent)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        reply = await client.post(f"/api/v1/heartbeat/{service}/beat")
    assert reply.status_code == 200
    at = datetime.fromisoformat(reply.json()["at"])
    book = b.agent.probes.heartbeats
    await until(lambda: book.last(f"{service}/beat") == at, timeout=10)  # the owner's book
    c = await start_node("node-gamma")  # and a node started afterwards
    assert c.agent.probes.heartbeats.last(f"{service}/beat") == at
