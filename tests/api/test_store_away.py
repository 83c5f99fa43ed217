"""PostgreSQL behind a loopback TCP proxy that the test cuts: while the database is away API
reads answer 503 with Retry-After (not 500) and /healthz names the store; after it returns,
both recover without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from agent.catalog.loader import load
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import Settings
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult
from tests.api.conftest import CATALOG, tokens_and_entries
from tests.store.conftest import POSTGRES_ENV, _postgres_schema

pytestmark = pytest.mark.postgres


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to the database; `cut` drops every connection and the port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(
            self._pipe, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_w}
        await asyncio.gather(self._copy(reader, up_w), self._copy(up_r, writer))

    async def _copy(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.transport.abort()
        self._writers.discard(dst)


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    yield from _postgres_schema(base)


async def until(condition: Callable[[], object], seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.1)


async def test_api_reads_answer_503_while_the_database_is_away_and_recover(
    pg_url: str, tmp_path: Path
) -> None:
    url = make_url(pg_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.open()
    via = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    catalog_path = tmp_path / "services.yaml"
    catalog_path.write_text(CATALOG, encoding="utf-8")
    tokens, entries = tokens_and_entries()
    settings = Settings(catalog=str(catalog_path), db=via, tokens=entries)
    store = await asyncio.to_thread(SqlStore.open, via)
    agent = Agent(settings, load(catalog_path), store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    await until(lambda: agent.started.is_set() or task.done(), 30)
    app = create_app(agent.metrics.render, agent.health, agent=agent)
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/api/v1/incidents", headers=viewer)).status_code == 200

        await proxy.cut()
        away = await client.get("/api/v1/incidents", headers=viewer)
        assert away.status_code == 503 and away.headers["Retry-After"].isdigit()
        assert "127.0.0.1" not in away.text  # the driver's message is not echoed
        result = ProbeResult("portal/heartbeat", datetime.now(UTC), 0.1, Outcome.OK)
        agent.observe(result, "heartbeat")
        await until(lambda: agent.writer.last_error, 15)
        health = await client.get("/healthz")
        assert health.status_code == 503 and "store_unavailable" in health.json()["reasons"]

        await proxy.open()
        await until(lambda: agent.writer.depth == 0, 40)
        assert (await client.get("/api/v1/incidents", headers=viewer)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
    agent.stop.set()
    await asyncio.wait_for(task, 60)
    store.close()
    await proxy.cut()
