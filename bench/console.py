"""Console benchmark: the board with 2,000 services, first render and live updates.

    python bench/console.py [--services 2000] [--updates 60] [--append]

A real `Agent` (scheduler, engine, SQLite store, writer, alerting; heartbeat checks, 1 h
interval, so nothing probes during the measurement) behind the real ASGI app, driven in-process
through httpx.ASGITransport with an operator's cookie, the way the page's script polls:
`/board/live?v=2&have=...`, applying what comes back. States change by feeding the
engine probe results through `Agent.observe`, the path real probes take.

Two CPU figures per request:

- **server CPU** (the one held to the targets): every step of the request's own task on the
  event loop thread (routing, auth, the board's work, rendering, JSON encoding, and any garbage
  collection that runs inside those steps, gen2 included) plus the CPU of the worker threads
  running the store work the request hands off (`asyncio.to_thread`, attributed through a
  context variable). It leaves out other tasks that happen to run on the loop meanwhile (the
  alerting tick every 5 s, store metrics, writer), the in-process HTTP client, and the socket
  and HTTP parsing work uvicorn would add in front of the app.
- **process CPU**: `time.process_time()` around the request, every thread of the process: the
  in-process client and whatever background work ran meanwhile are counted too (upper bound).

Background work is drained (writer) before each request. The month-to-date figures, computed by
the store metrics' paced pass and only read by the board, are measured on their own.
Targets: first render under 1 s, each live update under 100 ms of server CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.api.auth import hash_token, new_token
from agent.api.indicators import current_month, figures
from agent.catalog.loader import load
from agent.catalog.model import MACRO_SERVICES
from agent.commands.run import tune_gc
from agent.runtime import Agent
from agent.server import create_app
from agent.settings import Settings, TokenEntry
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult

TIERS = ("platina", "ouro", "prata", "bronze")
TILE = re.compile(r'<li><a class="tile[^"]*" id="tile-([^"]+)".*?</li>')


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


# ---- attributing CPU to a request ---------------------------------------------------------


@dataclass
class Usage:
    """CPU seconds one request used: its task's steps on the loop, its worker-thread work."""

    task: asyncio.Task[Any] | None = None  # the request's task (the client's, in-process)
    loop: float = 0.0
    threads: float = 0.0
    gc: list[tuple[int, float]] = field(default_factory=list)  # (generation, CPU s) in `loop`
    stepping: bool = False  # the request's task is running a step now

    @property
    def server(self) -> float:
        return self.loop + self.threads


REQUEST: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("request", default=None)


class _Stepped:
    """Awaits a coroutine, adding the thread CPU of each of its steps to `usage.loop`."""

    def __init__(self, coro: Any, usage: Usage) -> None:
        self.coro, self.usage = coro, usage

    def __await__(self) -> Generator[Any, Any, Any]:
        send: Any = None
        error: BaseException | None = None
        while True:
            began = time.thread_time()
            self.usage.stepping = True
            try:
                step = self.coro.throw(error) if error else self.coro.send(send)
            except StopIteration as stop:
                return stop.value
            finally:
                self.usage.stepping = False
                self.usage.loop += time.thread_time() - began
            try:
                send, error = (yield step), None
            except BaseException as exc:  # passed on into the coroutine
                send, error = None, exc


def timed_app(app: Any) -> Any:
    """The ASGI app, its request task's CPU counted when a request is being measured."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        usage = REQUEST.get()
        if usage is None:
            await app(scope, receive, send)
        else:
            await _Stepped(app(scope, receive, send), usage)

    return wrapped


class AttributingExecutor(ThreadPoolExecutor):
    """The loop's default executor (`asyncio.to_thread`): work a measured request's own task
    hands off adds its thread CPU to that request (not work of tasks it spawned: the
    month-to-date refresh is measured on its own)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        usage = REQUEST.get()
        if usage is None or asyncio.current_task() is not usage.task:
            return super().submit(fn, *args, **kwargs)

        def timed() -> Any:
            began = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                usage.threads += time.thread_time() - began

        return super().submit(timed)


class GcWatch:
    """Garbage collections (generation, CPU) run inside a measured request's steps."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._began: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        usage = self.usage
        if usage is None or not usage.stepping or threading.current_thread() is not LOOP[0]:
            return
        if phase == "start":
            self._began = time.thread_time()
        elif self._began is not None:
            usage.gc.append((info["generation"], time.thread_time() - self._began))
            self._began = None


LOOP = [threading.main_thread()]  # the event loop's thread


GC = GcWatch()


@dataclass
class Sample:
    server: float
    process: float
    wall: float
    gc: list[tuple[int, float]]
    response: httpx.Response


async def measure(client: httpx.AsyncClient, url: str) -> Sample:
    usage = Usage(task=asyncio.current_task())
    token = REQUEST.set(usage)
    GC.usage = usage
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        response = await client.get(url)
    finally:
        process, wall = time.process_time() - cpu, time.perf_counter() - wall
        GC.usage = None
        REQUEST.reset(token)
    assert response.status_code == 200, response.text[:300]
    return Sample(usage.server, process, wall, list(usage.gc), response)


# ---- the page's side ----------------------------------------------------------------------

INCIDENT_ROW = r'<tr class="lvl-\w+" id="incident-\d+" data-row="(\d+)">.*?</tr>'
ALERT_ROW = r'<li class="alert[^"]*" data-alert="[^"]*" data-row="([^"]+)">.*?</li>'
ROWS = {"incidents": re.compile(INCIDENT_ROW, re.S), "alerts": re.compile(ALERT_ROW, re.S)}


def pieces(pattern: re.Pattern[str], html: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in pattern.finditer(html)}


def _shown(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Rows but the elapsed times (rendered when the row was, then ticked by the page)."""
    elapsed = re.compile(r'(data-red="[^"]*">)[^<]*(</span>)')
    return {name: {i: elapsed.sub(r"\1\2", html) for i, html in found.items()}
            for name, found in rows.items()}  # fmt: skip


class Page:
    """What the page's script keeps: the tiles, the list rows, each part's token."""

    def __init__(self, html: str) -> None:
        self.tokens = dict(re.findall(r'data-section="(\w+)" data-digest="([^"]*)"', html))
        self.tiles = pieces(TILE, html)
        self.rows = {name: pieces(pattern, html) for name, pattern in ROWS.items()}

    def url(self) -> str:
        have = ",".join(f"{k}:{v}" for k, v in self.tokens.items())
        return str(httpx.URL("/board/live", params={"v": 2, "have": have}))

    def apply(self, body: dict[str, Any]) -> None:
        for name, part in body["sections"].items():
            if "html" in part and name == "tiles":
                self.tiles = pieces(TILE, part["html"])
            elif "html" in part and name in ROWS:
                self.rows[name] = pieces(ROWS[name], part["html"])
            elif "tiles" in part:
                assert set(part["tiles"]) <= set(self.tiles)
                self.tiles |= part["tiles"]
            elif "order" in part:
                held, new = self.rows[name], part["rows"]
                self.rows[name] = {i: new[i] if i in new else held[i] for i in part["order"]}
            self.tokens[name] = part["digest"]


# ---- the run ------------------------------------------------------------------------------


async def run(count: int, updates: int) -> dict[str, Any]:
    LOOP[0] = threading.current_thread()
    asyncio.get_running_loop().set_default_executor(AttributingExecutor())
    gc.callbacks.append(GC)
    tmp = Path(tempfile.mkdtemp(prefix="vigia-console-bench-"))
    (tmp / "services.yaml").write_text(catalog_text(count), encoding="utf-8")
    token = new_token()
    entry = TokenEntry(name="bench", role="operator", hash=hash_token(token))
    settings = Settings(catalog=str(tmp / "services.yaml"), db=str(tmp / "v.db"), tokens=(entry,))
    store = SqlStore.open(f"sqlite:///{tmp / 'v.db'}")
    agent = Agent(settings, load(tmp / "services.yaml"), store, SystemClock(), serve_http=False)
    tune_gc()  # the process as `vigia run` sets it up (agent/commands/run.py)
    task = asyncio.create_task(agent.run())
    while not agent.started.is_set() and not task.done():
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
    try:
        result = await _measure_board(agent, app, token, services, start, updates)
        result["services"] = count
        result["mtd"] = await _month_to_date(agent)
        result["full_gc"] = _full_collection()
        return result
    finally:
        agent.stop.set()
        await task
        store.close()


def _full_collection() -> tuple[float, int]:
    """CPU of a full (gen2) garbage collection of the agent's heap, and the objects in it."""
    began = time.thread_time()
    gc.collect()
    return time.thread_time() - began, len(gc.get_objects())


async def _month_to_date(agent: Agent) -> float:
    """CPU of one month-to-date computation (the figures the store metrics publish)."""

    def timed() -> float:
        began = time.thread_time()
        figures(agent, current_month(agent), agent.clock.now())
        return time.thread_time() - began

    return await asyncio.to_thread(timed)


async def _measure_board(
    agent: Agent, app: Any, token: str, services: list[str], start: datetime, updates: int
) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=timed_app(app))
    base = "http://localhost"  # an allowed host by default (settings: allowed_hosts)
    async with httpx.AsyncClient(transport=transport, base_url=base) as c:
        login = await c.post("/login", data={"token": token, "next": "/"})  # a session cookie
        assert login.status_code == 303, login.text[:300]
        first = await measure(c, "/")
        assert f"tile-{services[-1]}" in first.response.text
        await agent.writer.drain()
        await app.state.vigia_console.board.month.wait_briefly(120)  # let the MTD figures land
        warm = await measure(c, "/")
        page = Page(warm.response.text)
        page.apply((await measure(c, page.url())).response.json())  # the figures, now in
        changed, idle, down = await _updates(agent, c, page, services, start, updates)
        full = await measure(c, "/board/live?v=2")  # no tokens: every part whole
        truth = Page("")
        truth.apply(full.response.json())
        assert page.tiles == truth.tiles, "the tiles, updated by deltas, differ from a full render"
        assert _shown(page.rows) == _shown(truth.rows), "the rows differ from a full render"
    return {
        "first": first, "warm": warm, "changed": changed, "idle": idle, "full": full,
        "page_bytes": len(first.response.content), "down": down,
        "alerts": len(agent.alerting.evaluator.alerts),
    }  # fmt: skip


async def _updates(
    agent: Agent,
    client: httpx.AsyncClient,
    page: Page,
    services: list[str],
    start: datetime,
    updates: int,
) -> tuple[list[Sample], list[Sample], int]:
    """Five services change, the page asks; then it asks again with nothing changed."""
    count = len(services)
    changed: list[Sample] = []
    idle: list[Sample] = []
    at = start + timedelta(minutes=20)
    down = set(services[::97])
    for n in range(updates):
        flipped = [services[(n * 7 + k * (count // 5)) % count] for k in range(5)]  # five change
        for sid in flipped:
            at += timedelta(seconds=1)
            feed(agent, sid, Outcome.OK if sid in down else Outcome.FAIL, at)
            down ^= {sid}
        await settle(agent)
        sample = await measure(client, page.url())
        sent = sample.response.json()["sections"]
        assert set(sent["tiles"]["tiles"]) == set(flipped), (n, sent["tiles"])
        assert not any("html" in sent.get(name, {}) for name in ("tiles", *ROWS)), n
        page.apply(sample.response.json())
        changed.append(sample)
        sample = await measure(client, page.url())
        assert "tiles" not in sample.response.json()["sections"], n
        page.apply(sample.response.json())
        idle.append(sample)
    return changed, idle, len(down)


# ---- the report ---------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{ms(statistics.median(ordered))} / {ms(p95)} / {ms(ordered[-1])}"


def gen2(samples: list[Sample]) -> str:
    found = [cpu for s in samples for g, cpu in s.gc if g == 2]
    return f"{len(found)} ({ms(sum(found))} ms)" if found else "0"


def markdown(r: dict[str, Any]) -> str:
    first, warm, full = r["first"], r["warm"], r["full"]
    changed, idle = r["changed"], r["idle"]
    n = len(changed)
    rows = [
        ("first render of `/` (cold: templates compiled, tiles rendered, MTD started)",
         ms(first.server), ms(first.process), ms(first.wall)),
        ("render of `/` again", ms(warm.server), ms(warm.process), ms(warm.wall)),
        (f"**live update, 5 services changed** (median / p95 / max of {n})",
         f"**{spread([s.server for s in changed])}**",
         spread([s.process for s in changed]), spread([s.wall for s in changed])),
        (f"live update, nothing changed (median / p95 / max of {n})",
         spread([s.server for s in idle]), spread([s.process for s in idle]),
         spread([s.wall for s in idle])),
        ("live update with no tokens (every part whole)",
         ms(full.server), ms(full.process), ms(full.wall)),
    ]  # fmt: skip
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    sizes = [len(s.response.content) for s in changed]
    mtd, (collect, objects) = r["mtd"], r["full_gc"]
    return f"""
## Console board (bench/console.py), {datetime.now(UTC):%Y-%m-%d}

Python {platform.python_version()}, SQLite, 2 shared cores. {r["services"]:,} services on the
board (one heartbeat check each), 21 down at the start and {r["down"]} at the end (each down
service has an open incident; {r["alerts"]} active alerts at the end). The client polls as the
page does (`have=` each part's token) and applies each answer; at the end its tiles and incident
and alert rows equal a full render.

    flock /tmp/bench.lock python bench/console.py --append

| what | server CPU ms | process CPU ms | wall ms |
|---|---|---|---|
{table}

Server CPU: the request's own task steps on the event loop thread (routing, auth, the board's
work, rendering, JSON, any garbage collection run inside them) + its store work in worker
threads. Process CPU: every thread during the request, so also the in-process HTTP client and
any background work that ran meanwhile (alerting tick every 5 s, store metrics, writer).
Gen2 collections inside the measured updates: {gen2(changed + idle)}; one costs ~{ms(collect)} ms
here ({objects:,} objects, whatever code allocates when it falls due pays it). Answer to a 5-change
update: median {statistics.median(sizes) / 1024:.1f} KiB (board page
{r["page_bytes"] // 1024} KiB). Month-to-date figures: {ms(mtd)} ms CPU per computation, done
once per availability pass of the store metrics (paced, at most every 30 s) and shared by
/metrics, the board and the API; the board computes none.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    text = markdown(asyncio.run(run(args.services, args.updates)))
    print(text)
    if args.append:
        with open(Path(__file__).with_name("RESULTS.md"), "a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
