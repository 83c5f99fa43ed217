"""Console benchmark: the board with 2,000 services, first render and live updates.

    python bench/console.py [--services 2000] [--updates 30] [--append]

A real `Agent` (scheduler, engine, SQLite store, writer; heartbeat checks, 1 h interval, so
nothing probes during the measurement) behind the real ASGI app, driven in-process through
httpx.ASGITransport with an operator's cookie. States change by feeding the engine probe
results through `Agent.observe`, the path real probes take.

CPU is `time.process_time()` around each request: the whole process, every thread (the
event loop, the store threads, and the in-process HTTP client too, so it is an upper bound of
the server's share). Background work is drained before each measurement. Targets: first
render under 1 s, each live update under 100 ms of CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.api.auth import hash_token, new_token
from agent.catalog.loader import load
from agent.catalog.model import MACRO_SERVICES
from agent.console import board
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import Settings, TokenEntry
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult

TIERS = ("platina", "ouro", "prata", "bronze")


def catalog_text(count: int) -> str:
    lines = ["version: 1", "defaults: {interval: 1h, timeout: 5s, confirm_down: 1, confirm_up: 1}",
             "services:"]  # fmt: skip
    for i in range(count):
        tier = TIERS[0] if i % 10 == 0 else TIERS[1 + i % 3]
        lines += [
            f"  - id: svc-{i:05d}",
            f"    name: Serviço de teste número {i}",
            f"    macro_service: {MACRO_SERVICES[i % len(MACRO_SERVICES)]}",
            f"    tier: {tier}",
            f"    pcn: {'true' if tier == 'platina' else 'false'}",
            "    checks: [{heartbeat: {max_silence: 1h}}]",
        ]
    return "\n".join(lines) + "\n"


async def settle(agent: Agent) -> None:
    await agent.writer.drain()
    await asyncio.sleep(0.05)


def feed(agent: Agent, sid: str, outcome: Outcome, at: datetime) -> None:
    agent.observe(ProbeResult(f"{sid}/heartbeat", at, 0.05, outcome, "HTTP 503"), "heartbeat")


STORE_CPU = [0.0]  # CPU of the board's store work in worker threads, per request


async def _timed_blocking(work: Any, *args: Any, **kwargs: Any) -> Any:
    def run() -> Any:
        began = time.thread_time()
        try:
            return work(*args, **kwargs)
        finally:
            STORE_CPU[0] += time.thread_time() - began

    return await asyncio.to_thread(run)


board.blocking = _timed_blocking  # count the request's own thread work (see OWN)
OWN: list[float] = []  # loop-thread CPU + the request's store-thread CPU, per request


async def measure(client: httpx.AsyncClient, url: str) -> tuple[float, float, httpx.Response]:
    STORE_CPU[0] = 0.0
    cpu, wall, own = time.process_time(), time.perf_counter(), time.thread_time()
    response = await client.get(url)
    OWN.append(time.thread_time() - own + STORE_CPU[0])
    return time.process_time() - cpu, time.perf_counter() - wall, response


async def run(count: int, updates: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="vigia-console-bench-"))
    (tmp / "services.yaml").write_text(catalog_text(count), encoding="utf-8")
    token = new_token()
    entry = TokenEntry(name="bench", role="operator", hash=hash_token(token))
    settings = Settings(catalog=str(tmp / "services.yaml"), db=str(tmp / "v.db"), tokens=(entry,))
    store = SqlStore.open(f"sqlite:///{tmp / 'v.db'}")
    agent = Agent(settings, load(tmp / "services.yaml"), store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    while not hasattr(agent, "scheduler"):  # set once the writer and alerting run
        await asyncio.sleep(0.01)
    services = [s.id for s in agent.catalog.services]
    start = datetime.now(UTC) - timedelta(hours=1)
    for sid in services:  # everything up, a few down
        feed(agent, sid, Outcome.OK, start)
    for sid in services[::97]:
        feed(agent, sid, Outcome.FAIL, start + timedelta(minutes=10))
    await asyncio.sleep(2)
    await settle(agent)
    app = create_app(agent.registry, agent.health, agent=agent)
    cookies = {"vigia_token": token}
    try:
        return await _measure_board(agent, app, cookies, services, start, count, updates)
    finally:
        agent.stop.set()
        await task
        store.close()


async def _measure_board(
    agent: Agent,
    app: Any,
    cookies: dict[str, str],
    services: list[str],
    start: datetime,
    count: int,
    updates: int,
) -> dict[str, object]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://b", cookies=cookies
    ) as client:
        first_cpu, first_wall, first = await measure(client, "/")
        assert first.status_code == 200 and f"tile-{services[-1]}" in first.text
        await agent.writer.drain()
        await app.state.vigia_console.board.month.wait_briefly(120)  # let the MTD figures land
        second_cpu, second_wall, _ = await measure(client, "/")
        live = await client.get("/board/live")
        have = {k: v["digest"] for k, v in live.json()["sections"].items()}
        cpu_changed: list[float] = []
        cpu_idle: list[float] = []
        own_changed: list[float] = []
        first_own = OWN[0]
        at = start + timedelta(minutes=20)
        down = set(services[::97])
        for n in range(updates):
            for sid in services[n * 7 % count :: max(1, count // 5)][:5]:  # five change each time
                at += timedelta(seconds=1)
                feed(agent, sid, Outcome.OK if sid in down else Outcome.FAIL, at)
                down ^= {sid}
            await settle(agent)
            param = ",".join(f"{k}:{v}" for k, v in have.items())
            cpu, _, response = await measure(client, f"/board/live?have={param}")
            own_changed.append(OWN[-1])
            changed = response.json()["sections"]
            assert "tiles" in changed, n
            have |= {k: v["digest"] for k, v in changed.items()}
            cpu_changed.append(cpu)
            param = ",".join(f"{k}:{v}" for k, v in have.items())
            cpu, _, response = await measure(client, f"/board/live?have={param}")
            cpu_idle.append(cpu)
        size = len(first.content)
    return {
        "services": count, "first_cpu": first_cpu, "first_wall": first_wall,
        "warm_cpu": second_cpu, "warm_wall": second_wall, "page_bytes": size,
        "changed": cpu_changed, "idle": cpu_idle, "own_changed": own_changed,
        "first_own": first_own,
    }  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def markdown(r: dict[str, object]) -> str:
    changed, idle = sorted(r["changed"]), sorted(r["idle"])  # type: ignore[type-var]
    own = sorted(r["own_changed"])  # type: ignore[type-var]
    p95 = changed[int(0.95 * (len(changed) - 1))]
    rows = [
        ("first render of `/` (cold: templates compiled, tiles rendered, MTD figures started)",
         ms(r["first_cpu"]), ms(r["first_wall"])),
        ("first render, the request's own CPU (loop thread + its store threads)",
         ms(r["first_own"]), ""),
        ("render of `/` again (tiles cached)", ms(r["warm_cpu"]), ms(r["warm_wall"])),
        ("live update, 5 changed, the request's own CPU (median / p95 / max)",
         f"{ms(statistics.median(own))} / {ms(own[int(0.95 * (len(own) - 1))])} / {ms(own[-1])}",
         ""),
        (f"live update, 5 services changed (median / p95 / max of {len(changed)})",
         f"{ms(statistics.median(changed))} / {ms(p95)} / {ms(changed[-1])}", ""),
        ("live update, nothing changed (median / max)",
         f"{ms(statistics.median(idle))} / {ms(idle[-1])}", ""),
    ]  # fmt: skip
    table = "\n".join(f"| {what} | {cpu} | {wall} |" for what, cpu, wall in rows)
    return f"""
## Console board (bench/console.py), {datetime.now(UTC):%Y-%m-%d}

Python {platform.python_version()}, SQLite, 2 shared cores. {r["services"]:,} services on the
board (one heartbeat check each), ~1 % down with open incidents. CPU = process CPU (all
threads, in-process client included) per request. Targets: first render < 1 s, live update
< 100 ms CPU.

    python bench/console.py --append

| what | CPU ms | wall ms |
|---|---|---|
{table}

Board page: {int(r["page_bytes"]) // 1024} KiB. Process CPU also counts the agent's own
background work during the request (alerting tick every 5 s, metrics, writer), hence its tail;
the request's own CPU excludes it. The first render waits up to 0.3 s for the month-to-date
figures, computed in a background thread at most once a minute.
"""  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    text = markdown(asyncio.run(run(args.services, args.updates)))
    print(text)
    if args.append:
        with open(Path(__file__).with_name("RESULTS.md"), "a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
