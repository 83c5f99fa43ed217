"""A real agent on real SQLite on a tiny tmpfs: when the disk fills, /healthz turns 503 and
names the store, the health gauge drops; when space returns, both recover by themselves."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agent.catalog.loader import load
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import Settings
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult
from tests.api.conftest import CATALOG, tokens_and_entries


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
async def agent_on(tiny_fs: Path, tmp_path: Path) -> AsyncIterator[tuple[Agent, httpx.AsyncClient]]:
    catalog_path = tmp_path / "services.yaml"
    catalog_path.write_text(CATALOG, encoding="utf-8")
    _, entries = tokens_and_entries()
    db = tiny_fs / "vigia.db"
    settings = Settings(catalog=str(catalog_path), db=str(db), tokens=entries)
    store = SqlStore.open(f"sqlite:///{db}")
    agent = Agent(settings, load(catalog_path), store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    await until(lambda: agent.started.is_set() or task.done(), 30)
    app = create_app(agent.metrics.render, agent.health, agent=agent)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield agent, client
    agent.stop.set()
    await asyncio.wait_for(task, 60)
    store.close()


def fill(fs: Path) -> Path:
    filler = fs / "filler"
    # Unbuffered, and the suppress outermost: ENOSPC may come from a write or from the close.
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 65536)
    return filler


def feed(agent: Agent, n: int) -> None:
    for i in range(n):
        outcome = Outcome.FAIL if i % 2 else Outcome.OK
        reason = f"HTTP 503 {'x' * 20_000}" if outcome is Outcome.FAIL else ""
        agent.observe(
            ProbeResult("portal/heartbeat", datetime.now(UTC), 0.1, outcome, reason), "heartbeat"
        )


def gauge(agent: Agent, line: str) -> bool:
    return line in bytes(agent.metrics.render()).decode()


async def until(condition: Callable[[], object], seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.1)


async def test_a_full_disk_makes_healthz_503_naming_the_store_and_it_recovers(
    tiny_fs: Path, agent_on: tuple[Agent, httpx.AsyncClient]
) -> None:
    agent, client = agent_on
    ok = await client.get("/healthz")
    assert ok.status_code == 200 and "store_unavailable" not in ok.json().get("reasons", [])
    assert gauge(agent, "vigia_agent_healthy 1.0")

    filler = fill(tiny_fs)
    feed(agent, 40)
    await until(lambda: agent.writer.last_error, 15)
    away = await client.get("/healthz")
    assert away.status_code == 503
    body = away.json()
    assert body["healthy"] is False and "store_unavailable" in body["reasons"]
    assert body["store_error"] == "OperationalError"
    assert gauge(agent, "vigia_agent_healthy 0.0")
    assert gauge(agent, 'vigia_agent_unhealthy_reason{reason="store_unavailable"} 1.0')

    filler.unlink()
    await until(lambda: agent.writer.depth == 0, 40)
    back = await client.get("/healthz")
    assert back.status_code == 200 and back.json()["reasons"] == []
    assert gauge(agent, "vigia_agent_healthy 1.0")
    assert gauge(agent, 'vigia_agent_unhealthy_reason{reason="store_unavailable"} 0.0')
