"""The probe workers' API: assignment, result batches, tokens limited to their location."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import generate_latest

from agent.api.auth import hash_token, new_token
from agent.catalog.loader import load
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import LocationEntry, Settings, TokenEntry
from agent.store.sql import SqlStore
from checks.clock import SystemClock

SECRET = "s3cret-beat-value"
CATALOG = """\
version: 1
defaults: {interval: 1h, timeout: 5s, confirm_down: 2, confirm_up: 1}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    quorum: 2
    checks:
      - {name: beat, heartbeat: {max_silence: 1h, token: "${BEAT_TOKEN}"}}
  - id: intranet
    name: Intranet
    macro_service: comunicacoes
    tier: bronze
    locations: [lisboa, local]
    checks: [{name: beat, heartbeat: {max_silence: 1h}}]
"""


@dataclass
class Core:
    agent: Agent
    client: httpx.AsyncClient
    store: SqlStore
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Core]:
    monkeypatch.setenv("BEAT_TOKEN", SECRET)
    async with running_core(tmp_path, new_tokens()) as started:
        yield started


def new_tokens() -> dict[str, str]:
    return {name: new_token() for name in ("porto", "lisboa", "viewer", "admin")}


@contextlib.asynccontextmanager
async def running_core(tmp_path: Path, tokens: dict[str, str]) -> AsyncIterator[Core]:
    """A core on the database in `tmp_path` (started again on it: a restart)."""
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    settings = Settings(
        catalog=str(path),
        db=str(tmp_path / "vigia.db"),
        tokens=(
            TokenEntry(name="viewer", role="viewer", hash=hash_token(tokens["viewer"])),
            TokenEntry(name="admin", role="admin", hash=hash_token(tokens["admin"])),
        ),
        locations=(
            LocationEntry(name="porto", hash=hash_token(tokens["porto"])),
            LocationEntry(name="lisboa", hash=hash_token(tokens["lisboa"])),
        ),
    )
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    catalog = load(path, locations=settings.location_names)
    agent = Agent(settings, catalog, store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    while not agent.started.is_set() and not task.done():
        await asyncio.sleep(0.01)
    app = create_app(agent.registry, agent.health, agent=agent)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield Core(agent, client, store, tokens)
    finally:
        agent.stop.set()
        await task
        store.close()


def batch(location: str, results: list[dict[str, Any]], skew: float = 0.0) -> dict[str, Any]:
    clock = datetime.now(UTC) - timedelta(seconds=skew)
    return {"location": location, "worker_clock": clock.isoformat(), "worker_version": "0.1",
            "results": results}  # fmt: skip


def wire(check: str, seconds_ago: float, outcome: str = "ok") -> dict[str, Any]:
    at = datetime(2026, 1, 1, tzinfo=UTC) if seconds_ago < 0 else None
    started = at or datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds_ago)
    return {"check": check, "started_at": started.isoformat(), "duration": 0.1,
            "outcome": outcome, "reason": "refused" if outcome == "fail" else ""}  # fmt: skip


async def test_the_assignment_holds_only_the_locations_checks_with_placeholders(
    core: Core,
) -> None:
    reply = await core.client.get("/api/v1/probe/assignment", headers=core.auth("porto"))
    assert reply.status_code == 200
    body = reply.json()
    assert body["location"] == "porto" and SECRET not in reply.text
    catalog = yaml.safe_load(body["catalog"])
    assert [s["id"] for s in catalog["services"]] == ["portal"]
    assert catalog["services"][0]["checks"][0]["heartbeat"]["token"] == "${BEAT_TOKEN}"
    assert "quorum" not in catalog["services"][0] and "locations" not in body["catalog"]
    lisboa = await core.client.get("/api/v1/probe/assignment", headers=core.auth("lisboa"))
    assert [s["id"] for s in yaml.safe_load(lisboa.json()["catalog"])["services"]] == [
        "portal",
        "intranet",
    ]
    assert lisboa.json()["version"] != body["version"]


async def test_a_probe_token_reads_nothing_else_and_others_cannot_probe(core: Core) -> None:
    for path in ("/api/v1/services", "/api/v1/incidents", "/api/v1/catalog", "/api/v1/alerts"):
        reply = await core.client.get(path, headers=core.auth("porto"))
        assert reply.status_code == 403, path
    for who in ("viewer", "admin"):
        reply = await core.client.get("/api/v1/probe/assignment", headers=core.auth(who))
        assert reply.status_code == 403
    assert (await core.client.get("/api/v1/probe/assignment")).status_code == 401


async def test_a_batch_is_stored_once_however_often_it_is_sent(core: Core) -> None:
    results = [wire("portal/beat", 120), wire("portal/beat", 60)]
    url, auth = "/api/v1/probe/results", core.auth("porto")
    first = await core.client.post(url, json=batch("porto", results), headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2 and first.json()["duplicates"] == 0
    assert abs(first.json()["clock_offset_seconds"]) < 5
    again = await core.client.post(url, json=batch("porto", results + results), headers=auth)
    assert again.json() == {**again.json(), "accepted": 0, "duplicates": 4}
    stored = core.store.results(check="portal/beat")
    assert [(s.location, s.result.outcome.value) for s in stored] == [("porto", "ok")] * 2
    scrape = generate_latest(core.agent.registry).decode()
    assert 'vigia_location_results_received_total{location="porto",stored="new"} 2.0' in scrape
    assert 'vigia_location_last_seen_timestamp_seconds{location="porto"}' in scrape


async def test_results_not_its_own_are_refused_and_nothing_is_stored(core: Core) -> None:
    url, auth = "/api/v1/probe/results", core.auth("porto")
    mixed = [wire("portal/beat", 60), wire("intranet/beat", 60)]  # intranet: lisboa only
    reply = await core.client.post(url, json=batch("porto", mixed), headers=auth)
    assert reply.status_code == 403 and "intranet/beat" in reply.json()["detail"]
    other = await core.client.post(url, json=batch("lisboa", mixed[:1]), headers=auth)
    assert other.status_code == 403
    unknown = await core.client.post(url, json=batch("porto", [wire("ghost/x", 60)]), headers=auth)
    assert unknown.status_code == 403
    await core.agent.writer.drain()
    assert core.store.results(check="portal/beat") == []


async def test_malformed_and_oversized_batches_are_clear_4xx(core: Core) -> None:
    url, auth = "/api/v1/probe/results", core.auth("porto")
    bad = batch("porto", [{**wire("portal/beat", 60), "outcome": "maybe"}])
    assert (await core.client.post(url, json=bad, headers=auth)).status_code == 422
    extra = {**batch("porto", []), "surprise": 1}
    assert (await core.client.post(url, json=extra, headers=auth)).status_code == 422
    huge = batch("porto", [wire("portal/beat", i) for i in range(1, 20000)])
    reply = await core.client.post(url, json=huge, headers=auth)
    assert reply.status_code in (413, 422)
    assert core.store.results(check="portal/beat") == []


async def test_a_skewed_worker_is_refused_with_a_clear_error_and_counted(core: Core) -> None:
    url, auth = "/api/v1/probe/results", core.auth("porto")
    reply = await core.client.post(url, json=batch("porto", [wire("portal/beat", 60)], skew=30),
                                   headers=auth)  # fmt: skip
    assert reply.status_code == 409 and "NTP" in reply.json()["detail"]
    assert core.agent.locations.seen["porto"].rejected == 1
    assert core.store.results(check="portal/beat") == []
    signals = core.agent._signals()  # LocationClockSkew until a batch is accepted again
    assert signals["locations_skewed"] == 1.0 and signals["location_skewed:porto"] == 1.0
    reply = await core.client.post(url, json=batch("porto", [wire("portal/beat", 50)]),
                                   headers=auth)  # fmt: skip
    assert reply.status_code == 200
    assert core.agent._signals()["locations_skewed"] == 0.0


async def test_an_outage_seen_by_a_quorum_of_locations_names_them(core: Core) -> None:
    url = "/api/v1/probe/results"
    fails = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240, "fail")]
    for who in ("porto", "lisboa"):
        reply = await core.client.post(url, json=batch(who, fails), headers=core.auth(who))
        assert reply.status_code == 200
    [incident] = core.store.incidents(service="portal")
    assert incident.locations == ("lisboa", "porto")
    assert incident.started_at == datetime.fromisoformat(fails[0]["started_at"])


async def test_the_locations_listing_shows_last_seen_offset_and_below_quorum(core: Core) -> None:
    url = "/api/v1/probe/results"
    fails = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240, "fail")]
    behind = {**batch("porto", fails), "spool_depth": 1200}
    await core.client.post(url, json=behind, headers=core.auth("porto"))
    oks = [wire("portal/beat", 290), wire("portal/beat", 230)]
    await core.client.post(url, json=batch("lisboa", oks), headers=core.auth("lisboa"))
    reply = await core.client.get("/api/v1/locations", headers=core.auth("viewer"))
    assert reply.status_code == 200
    by_name = {item["name"]: item for item in reply.json()}
    assert set(by_name) == {"porto", "lisboa", "local"}
    porto = by_name["porto"]
    assert porto["worker_version"] == "0.1" and porto["results"] == 2
    assert porto["spool_depth"] == 1200 and by_name["local"]["spool_depth"] is None
    scrape = generate_latest(core.agent.registry).decode()
    assert 'vigia_location_spool_depth{location="porto"} 1200.0' in scrape
    assert abs(porto["clock_offset_seconds"]) < 5 and porto["last_seen"] is not None
    assert porto["failing_below_quorum"] == ["portal/beat"] and not porto["down"]
    assert by_name["lisboa"]["failing_below_quorum"] == [] and by_name["lisboa"]["checks"] == 2
    # the probe token may not read it
    denied = await core.client.get("/api/v1/locations", headers=core.auth("porto"))
    assert denied.status_code == 403


async def test_a_silent_location_raises_location_down(core: Core) -> None:
    book, limits = core.agent.locations, {"porto": 7210.0, "lisboa": 7210.0}
    later = book.started + timedelta(seconds=7211)
    assert book.down(book.started + timedelta(seconds=60), limits) == ()
    book.heard("lisboa", later - timedelta(seconds=10), 0.0, "0.1")
    assert book.down(later, limits) == ("porto",)
    signals = core.agent._signals()
    assert "location_down:porto" in signals and signals["locations_down"] == 0.0


async def test_a_checks_detail_shows_each_locations_own_state(core: Core) -> None:
    fails = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240, "fail")]
    await core.client.post("/api/v1/probe/results", json=batch("porto", fails),
                           headers=core.auth("porto"))  # fmt: skip
    reply = await core.client.get("/api/v1/services/portal", headers=core.auth("viewer"))
    [check] = reply.json()["checks"]
    assert check["quorum"] == 2
    states = {item["location"]: item["hard_state"] for item in check["locations"]}
    assert states == {"porto": "down", "lisboa": "unknown", "local": "unknown"}
    assert check["hard_state"] != "down"  # one location of three is no outage


def dropped(check: str, first_ago: float, last_ago: float, count: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"check": check, "start": (now - timedelta(seconds=first_ago)).isoformat(),
            "end": (now - timedelta(seconds=last_ago)).isoformat(), "count": count}  # fmt: skip


async def test_dropped_intervals_are_counted_and_checked_like_results(core: Core) -> None:
    url, auth = "/api/v1/probe/results", core.auth("porto")
    body = {
        **batch("porto", [wire("portal/beat", 60)]),
        "dropped": [dropped("portal/beat", 900, 600, 5)],
    }
    reply = await core.client.post(url, json=body, headers=auth)
    assert reply.status_code == 200, reply.text
    assert core.agent.locations.seen["porto"].dropped == 5
    foreign = {**batch("porto", []), "dropped": [dropped("intranet/beat", 900, 600, 5)]}
    reply = await core.client.post(url, json=foreign, headers=auth)
    assert reply.status_code == 403 and "intranet/beat" in reply.json()["detail"]
    backwards = {**batch("porto", []), "dropped": [dropped("portal/beat", 600, 900, 5)]}
    reply = await core.client.post(url, json=backwards, headers=auth)
    assert reply.status_code == 422 and "end must not be before its start" in reply.text
    assert core.agent.locations.seen["porto"].dropped == 5


async def test_dropped_counts_survive_a_core_restart_and_a_resent_batch_counts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEAT_TOKEN", SECRET)
    tokens, url = new_tokens(), "/api/v1/probe/results"
    body = {
        **batch("porto", [wire("portal/beat", 60)]),
        "dropped": [dropped("portal/beat", 900, 600, 5)],
    }
    metric = 'vigia_location_dropped_results_total{location="porto"}'

    async def counted(core: Core) -> tuple[int, str]:
        reply = await core.client.get("/api/v1/locations", headers=core.auth("viewer"))
        by_name = {item["name"]: item["dropped"] for item in reply.json()}
        scrape = generate_latest(core.agent.registry).decode()
        line = next(x for x in scrape.splitlines() if x.startswith(metric))
        return by_name["porto"], line.split()[-1]

    async with running_core(tmp_path, tokens) as first:
        for _ in range(2):  # the second time: an acknowledgement lost, the batch resent
            reply = await first.client.post(url, json=body, headers=first.auth("porto"))
            assert reply.status_code == 200, reply.text
        assert await counted(first) == (5, "5.0")
    async with running_core(tmp_path, tokens) as second:  # the core restarted
        assert await counted(second) == (5, "5.0")
        await second.client.post(url, json=body, headers=second.auth("porto"))  # once more
        later = {**batch("porto", []), "dropped": [dropped("portal/beat", 500, 400, 2)]}
        reply = await second.client.post(url, json=later, headers=second.auth("porto"))
        assert reply.status_code == 200, reply.text
        assert await counted(second) == (7, "7.0")
        assert second.store.dropped_counts() == {"porto": 7}
