"""Status page benchmark: a crowd on /status at a fixed rate, the agent's CPU from /proc.

    python bench/status_page.py [--rate 500] [--seconds 60] [--services 20]
                                [--connections 50] [--conditional 0.0] [--append]

Starts `vigia run` (the real CLI, a subprocess) with the status page on (refresh 15 s) and
`--services` public heartbeat services (nothing probes), then drives `--rate` GET /status
requests per second for `--seconds` over `--connections` kept-alive loopback connections. A
share `--conditional` of the requests carries the last ETag (If-None-Match), as a browser
reloading the page does; the others want the whole page, gzip-compressed as a browser accepts
it (`--identity`: uncompressed). The client is a small asyncio
HTTP/1.1 loop on raw sockets, in this process, so its own CPU is not the agent's.

The agent's CPU is read from /proc/<pid>/stat (utime + stime, every thread) over the load
window, and over an idle window of the same length before it (the agent's own background
work: scheduler, writer, alerting, metrics). Target (issue #16): under 0.1 core at 500/s.

`--floor` drives the same load at the agent's HTTP server set up as `vigia run` sets it up
(agent.server.serve: httptools with the header timeout, uvloop, no memory answers) in front
of a trivial ASGI app that answers 304 at once: what any route costs before the app does
anything. `--app` times the ASGI app alone, in-process (a real Agent, no sockets): what the
status page itself costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
# as a browser asks; --identity drops Accept-Encoding (the whole page uncompressed)
REQUEST = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, deflate, br\r\n"


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    late: int = 0  # requests sent more than 50 ms after their slot: the client fell behind


def catalog(services: int) -> str:
    lines = ["version: 1", "defaults: {interval: 1h, timeout: 5s}", "services:"]
    for n in range(services):
        lines += [
            f"  - id: svc-{n:03d}", f"    name: Serviço público {n}", "    public: true",
            "    macro_service: desenvolvimento-aplicacoes", "    tier: ouro",
            "    checks: [{heartbeat: {max_silence: 1h}}]",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = dict(
        (k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines[1:])
    )
    length = int(headers.get(b"content-length", b"0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers.get(b"etag", b""), body


async def client(
    port: int, slots: asyncio.Queue[float], share: float, tally: Tally, etag: list[bytes]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    count = 0
    try:
        while True:
            slot = await slots.get()
            if slot < 0:
                return
            if time.monotonic() - slot > 0.05:
                tally.late += 1
            count += 1
            conditional = etag[0] and (count * share) % 1 + share >= 1 if share else False
            extra = b"If-None-Match: " + etag[0] + b"\r\n" if conditional else b""
            started = time.monotonic()
            writer.write(REQUEST + extra + b"\r\n")
            status, tag, body = await read_response(reader)
            tally.latencies.append(time.monotonic() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.bytes += len(body)
            if tag:
                etag[0] = tag
    finally:
        writer.close()


async def drive(port: int, rate: float, seconds: float, connections: int, share: float) -> Tally:
    tally, etag = Tally(), [b""]
    slots: asyncio.Queue[float] = asyncio.Queue()
    workers = [
        asyncio.create_task(client(port, slots, share, tally, etag)) for _ in range(connections)
    ]
    start = time.monotonic()
    total = int(rate * seconds)
    for n in range(total):
        slot = start + n / rate
        delay = slot - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        slots.put_nowait(slot)
    for _ in workers:
        slots.put_nowait(-1.0)
    await asyncio.gather(*workers)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--conditional", type=float, default=0.0)
    parser.add_argument("--identity", action="store_true", help="no Accept-Encoding: gzip")
    parser.add_argument("--floor", action="store_true", help="a trivial app instead of vigia")
    parser.add_argument("--app", action="store_true", help="time the ASGI app alone, in-process")
    parser.add_argument("--trivial-server", type=int, help=argparse.SUPPRESS)  # --floor's child
    parser.add_argument("--append", action="store_true", help="append the figures to RESULTS.md")
    args = parser.parse_args()
    if args.trivial_server:
        trivial_server(args.trivial_server)
        return
    if args.app:
        with tempfile.TemporaryDirectory() as tmp:
            print(asyncio.run(app_cost(Path(tmp), args.services)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        report = run(Path(tmp), args)
    print(report)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write("\n" + report + "\n")


def run(tmp: Path, args: argparse.Namespace) -> str:
    global REQUEST
    if args.identity:
        REQUEST = REQUEST.replace(b"Accept-Encoding: gzip, deflate, br\r\n", b"")
    (tmp / "services.yaml").write_text(catalog(args.services), encoding="utf-8")
    (tmp / "vigia.yaml").write_text("status_page: {enabled: true, refresh: 15s}\n")
    port = free_port()
    if args.floor:
        command = [sys.executable, str(Path(__file__).resolve()), "--trivial-server", str(port)]
    else:
        command = [
        sys.executable, "-m", "agent.cli", "--config", str(tmp / "vigia.yaml"),
        "--catalog", str(tmp / "services.yaml"), "--db", str(tmp / "vigia.db"),
        "run", "--listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    with open(tmp / "agent.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=ROOT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", 304 if args.floor else 200)
        page = httpx.get(f"http://127.0.0.1:{port}/status", timeout=10)
        assert page.status_code == (304 if args.floor else 200), page.text
        time.sleep(2)  # start-up work settles
        idle_before = cpu_seconds(proc.pid)
        time.sleep(args.seconds)
        idle = cpu_seconds(proc.pid) - idle_before
        loaded_before, wall_before = cpu_seconds(proc.pid), time.monotonic()
        tally = asyncio.run(
            drive(port, args.rate, args.seconds, args.connections, args.conditional)
        )
        wall = time.monotonic() - wall_before
        loaded = cpu_seconds(proc.pid) - loaded_before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return summary(args, tally, len(page.content), idle, loaded, wall)


async def app_cost(tmp: Path, services: int, calls: int = 5000) -> str:
    """CPU per /status call of the whole ASGI app and of the status layer alone."""
    sys.path.insert(0, str(ROOT))
    from agent.catalog.loader import load
    from agent.runtime import Agent
    from agent.server import create_app
    from agent.settings import Settings
    from agent.status.page import StatusPageLayer
    from agent.store.sql import SqlStore
    from checks.clock import SystemClock

    (tmp / "services.yaml").write_text(catalog(services), encoding="utf-8")
    settings = Settings(
        catalog=str(tmp / "services.yaml"), db=str(tmp / "vigia.db"),
        status_page={"enabled": True},  # type: ignore[arg-type]
    )  # fmt: skip
    store = SqlStore.open(f"sqlite:///{tmp / 'vigia.db'}")
    agent = Agent(settings, load(tmp / "services.yaml"), store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    while not agent.started.is_set() and not task.done():
        await asyncio.sleep(0.01)
    app = create_app(agent.registry, agent.health, agent=agent)
    scope = {
        "type": "http", "method": "GET", "path": "/status", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")],
        "http_version": "1.1", "scheme": "http", "root_path": "",
        "server": ("127.0.0.1", 9330), "client": ("127.0.0.1", 40000),
    }  # fmt: skip

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    figures = []
    for name, target in (
        ("whole app", app),
        ("status layer", StatusPageLayer(app, app.state.vigia_status)),
    ):
        await target(scope, receive, send)  # warm: the view built once
        started = time.process_time()
        for _ in range(calls):
            await target(scope, receive, send)
        figures.append(f"{name}: {(time.process_time() - started) / calls * 1000:.3f} ms")
    agent.stop.set()
    await task
    store.close()
    return f"per /status call ({calls} calls, {services} services): " + ", ".join(figures)


def trivial_server(port: int) -> None:
    """The agent's HTTP server (agent.server.serve) in front of an app that answers 304."""
    sys.path.insert(0, str(ROOT))
    from agent.commands.run import _loop_factory
    from agent.server import serve
    from agent.settings import Settings

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"etag", b'"x"'), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 304, "headers": headers})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def main() -> None:
        settings = Settings(listen=f"127.0.0.1:{port}")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(app, settings.listen, stop, settings)  # type: ignore[arg-type]

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


def wait_ready(url: str, status: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the agent did not become healthy")


def summary(
    args: argparse.Namespace, tally: Tally, page_bytes: int, idle: float, loaded: float, wall: float
) -> str:
    done = sum(tally.statuses.values())
    lat = sorted(tally.latencies)
    p50, p99 = statistics.median(lat) * 1000, lat[int(0.99 * (len(lat) - 1))] * 1000
    per_request = (loaded - idle * wall / args.seconds) / done * 1000 if done else 0.0
    return "\n".join(
        [
            f"    {Path(sys.argv[0]).name}{' --floor' if args.floor else ''} "
            f"--rate {args.rate:g} --seconds {args.seconds:g} "
            f"--services {args.services} --connections {args.connections} "
            f"--conditional {args.conditional:g}{' --identity' if args.identity else ''}",
            f"- machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"load average before {os.getloadavg()[0]:.2f}, Python {platform.python_version()}",
            f"- page: {page_bytes} bytes ({tally.bytes / max(1, done):.0f} per answer sent); "
            f"requests: {done} in {wall:.1f} s = {done / wall:.0f}/s "
            f"(statuses {dict(sorted(tally.statuses.items()))}, {tally.late} sent late)",
            f"- latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            f"- agent CPU under load: {loaded:.2f} s over {wall:.1f} s = "
            f"**{loaded / wall:.3f} core**; idle before: {idle / args.seconds:.3f} core; "
            f"per request, idle taken out: {per_request:.3f} ms",
        ]
    )


if __name__ == "__main__":
    main()
