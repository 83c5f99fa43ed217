"""The probe worker against a real core (in-process, through its ASGI app) and a real loopback
estate: assignment, spooling while the core is away, the backlog sent once, refusals handled.

The core's link is cut here by a transport that raises as a dropped connection does; the
end-to-end test (tests/e2e/test_locations_netns.py) cuts a real link between namespaces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, func, select

from agent.api.auth import hash_token, new_token
from agent.catalog.loader import load
from agent.locations.core_client import CoreClient
from agent.locations.spool import Spool
from agent.locations.wire import WireResult
from agent.locations.worker import ProbeWorker, WorkerOptions
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import LocationEntry, Settings
from agent.store import schema
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome
from tests.e2e.estate import ScriptedEstate

CATALOG = """\
version: 1
defaults: {{interval: 1s, timeout: 1s, confirm_down: 1, confirm_up: 1}}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    locations: [porto, local]
    checks:
      - {{name: web, http: {{url: "{url}"}}}}
"""


class CuttableTransport(httpx.AsyncBaseTransport):
    """The core's ASGI app, or a dropped connection while `cut`."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.cut = False
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.cut:
            raise httpx.ConnectError("connection refused (link cut)", request=request)
        self.requests += 1
        return await self.inner.handle_async_request(request)


@dataclass
class Site:
    agent: Agent
    store: SqlStore
    transport: CuttableTransport
    token: str
    estate: ScriptedEstate
    tmp: Path

    def worker(self, **options: object) -> ProbeWorker:
        client = CoreClient("http://localhost", self.token, transport=self.transport)
        spool = Spool(self.tmp / "spool.db")
        return ProbeWorker(
            WorkerOptions(location="porto", push_every=0.2, **options),  # type: ignore[arg-type]
            client,
            spool,
            SystemClock(),
        )

    def read(self) -> Connection:
        """A connection of its own on the core's database, for the assertions."""
        return create_engine(f"sqlite:///{self.tmp / 'vigia.db'}").connect()

    def stored(self, location: str = "porto") -> tuple[int, int]:
        """(rows, distinct keys) of the location's stored results."""
        table = schema.probe_results
        with self.read() as conn:
            rows = conn.execute(
                select(func.count()).where(table.c.location == location)
            ).scalar_one()
            keys = conn.execute(
                select(func.count()).select_from(
                    select(table.c.check, table.c.started_at)
                    .where(table.c.location == location)
                    .distinct()
                    .subquery()
                )
            ).scalar_one()
        return int(rows), int(keys)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    estate = ScriptedEstate(refusing=[])
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG.format(url=estate.url("portal")), encoding="utf-8")
    token = new_token()
    settings = Settings(
        catalog=str(path),
        db=str(tmp_path / "vigia.db"),
        locations=(
            LocationEntry(
                name="porto", hash=hash_token(token), connectivity_check=f"127.0.0.1:{estate.port}"
            ),
        ),
    )
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    catalog = load(path, locations=settings.location_names)
    agent = Agent(settings, catalog, store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    await agent.started.wait()
    transport = CuttableTransport(create_app(agent.registry, agent.health, agent=agent))
    yield Site(agent, store, transport, token, estate, tmp_path)
    agent.stop.set()
    await task
    store.close()
    estate.close()


async def _run_for(worker: ProbeWorker, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


async def test_the_worker_probes_its_assignment_and_the_core_stores_the_results(
    site: Site,
) -> None:
    worker = site.worker()
    await _run_for(worker, 3.0)
    rows, keys = site.stored()
    assert rows >= 2 and rows == keys
    assert worker.assignment is not None and worker.catalog is not None
    assert list(worker.catalog.checks) == ["portal/web"]
    seen = site.agent.locations.seen["porto"]
    assert seen.last_seen is not None and seen.results == rows
    assert worker.spool.depth() == 0  # everything acknowledged left the spool


async def test_a_cut_core_link_is_spooled_and_the_backlog_is_stored_once(site: Site) -> None:
    worker = site.worker()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(1.0)
    site.transport.cut = True
    await asyncio.sleep(3.0)
    during, _ = site.stored()
    depth = worker.spool.depth()
    assert depth >= 2, "the worker kept probing into its spool while the core was away"
    assert worker.core_problem and "link cut" in worker.core_problem
    assert worker.health()["healthy"] is True  # a cut core is not the worker's own fault
    site.transport.cut = False
    await asyncio.sleep(2.0)
    stop.set()
    await task
    seen = site.agent.locations.seen[worker.options.location]
    assert seen.spool_depth is not None  # every batch tells the core its backlog
    rows, keys = site.stored()
    assert rows == keys, "a result was stored twice"
    assert rows >= during + depth
    assert worker.spool.depth() == 0 and worker.core_problem == ""


async def test_a_lost_acknowledgement_resends_and_nothing_is_stored_twice(site: Site) -> None:
    worker = site.worker()
    await _run_for(worker, 2.0)
    before, _ = site.stored()
    # the same results again, as after an acknowledgement lost on the way back
    table = schema.probe_results
    with site.read() as conn:
        stored = conn.execute(
            select(table.c.check, table.c.started_at, table.c.outcome).where(
                table.c.location == "porto"
            )
        ).all()
    spool = Spool(site.tmp / "again.db")
    spool.add_many(
        [
            WireResult(check=c, started_at=at.replace(tzinfo=UTC), duration=0.1, outcome=o)
            for c, at, o in stored
        ]
    )
    again = ProbeWorker(
        WorkerOptions(location="porto"),
        CoreClient("http://localhost", site.token, transport=site.transport),
        spool,
        SystemClock(),
    )
    sent = await again.push_once()
    assert sent == len(stored)
    after, keys = site.stored()
    assert after == before == keys
    assert site.agent.locations.seen["porto"].duplicates >= len(stored)


async def test_a_worker_restarted_while_the_core_is_away_probes_with_its_kept_assignment(
    site: Site,
) -> None:
    await _run_for(site.worker(), 1.5)
    site.transport.cut = True
    restarted = site.worker()
    await _run_for(restarted, 2.5)
    assert restarted.catalog is not None, "no assignment: the restarted worker was blind"
    assert restarted.spool.depth() >= 1


async def test_results_for_a_check_no_longer_assigned_leave_the_spool(site: Site) -> None:
    worker = site.worker()
    assert await worker.refresh_assignment()
    foreign = WireResult(
        check="gone/web", started_at=datetime.now(UTC), duration=0.1, outcome=Outcome.OK
    )
    worker.spool.add(foreign)
    with pytest.raises(Exception, match="not assigned"):
        await worker.push_once()  # the core refuses the whole batch (403)
    await _run_for(worker, 2.0)  # the worker refetches its assignment and drops the stranger
    assert worker.spool.depth() == 0
    rows, _ = site.stored()
    assert rows >= 1


async def test_a_batch_too_big_for_the_core_is_split_until_it_fits(site: Site) -> None:
    worker = site.worker()
    assert await worker.refresh_assignment()
    start = datetime.now(UTC) - timedelta(minutes=30)
    big = "x" * 4000  # ~4 KB per result: 400 of them are over the core's 1 MiB body limit
    worker.spool.add_many(
        [
            WireResult(
                check="portal/web",
                started_at=start + timedelta(seconds=i),
                duration=0.1,
                outcome=Outcome.OK,
                reason=big,
            )
            for i in range(400)
        ]
    )
    await _run_for(worker, 3.0)
    assert worker.spool.depth() == 0
    assert worker.batch_size < 400
    rows, keys = site.stored()
    assert rows == keys and rows >= 400


async def test_a_blind_worker_reports_unknown_and_the_core_raises_location_blind(
    site: Site,
) -> None:
    worker = site.worker()
    assert await worker.refresh_assignment()
    worker.connectivity.target = ("127.0.0.1", 9)  # discard port: nothing listens
    await worker.connectivity.refresh()
    site.estate.set("portal", "503")
    await _run_for(worker, 2.5)
    signals = site.agent._signals()
    assert signals["locations_blind"] == 1.0 and signals["location_blind:porto"] == 1.0
    table = schema.probe_results
    with site.read() as conn:
        outcomes = set(
            conn.execute(select(table.c.outcome).where(table.c.location == "porto")).scalars()
        )
    assert outcomes == {"unknown"}, "a blind location's failures must not count as down"
