"""Scale benchmark: `vigia run` on 10,000 HTTP services against a loopback estate.

    python bench/scale.py [--services 10000] [--interval 30] [--duration 180] [--servers 20]
                          [--peer-duration 60] [--markdown FILE] [--json FILE]
                          [--idle-close 5] [--tls] [--reuse-connection]

`--idle-close S`: the origins close a connection idle for S seconds, as real servers do;
`--tls`: https origins, each with its own certificate from a CA made for the run (trustme),
which vigia (`ca_bundle`) and the peer trust; `--reuse-connection`: vigia's checks keep
connections alive (`reuse_connection: true`) and the peer pools them; by default both open
a new connection per probe (vigia's default since #17, blackbox_exporter's semantics).

What runs, each in its own process so every CPU figure is one process's own:

- the estate (bench/estate_server.py): one asyncio keep-alive responder serving `--servers`
  origins, each on its own loopback address (127.0.0.2, ...); service i is
  `http://<origin i mod servers>/svc/<i>`.
- the agent: a generated catalogue (tier bronze at `--interval`, one http check per service,
  default confirm/timeout) and a fresh SQLite db in a temp dir,
  `python -m agent.cli --catalog C --db D run --listen 127.0.0.1:P`, measured from outside.
- the peer, before and after the agent: a bare loop with one shared `httpx.AsyncClient` per
  origin firing the same requests at the same rate and spread (services/interval per second).

Measured, ignoring the first interval (warm-up: start-up, first connections):

- whole-agent CPU (psutil user+system of the process, threads included, plus children) over
  the window, divided by the probes started in the window (rows of probe_results);
- probe-start lateness p50/p99, two ways: exactly, from the db (started_at minus the due tick,
  which `agent.scheduler.due_time` recomputes from the check id), and from the
  `vigia_probe_start_lateness_seconds` histogram delta between two scrapes (linear
  interpolation inside the bucket, as Prometheus' histogram_quantile);
- peak RSS (VmHWM, read just before SIGTERM) and final RSS;
- skipped probes: every due tick of every check between start-up and SIGTERM must have exactly
  one result (from the db), and `vigia_probe_overlaps_total` must stay 0;
- database growth per service-day: db + WAL bytes after the run minus before (schema only),
  divided by services x run days, with the bytes per table (SQLite dbstat).

The metrics endpoint is scraped every `--scrape-every` seconds during the window, like a
Prometheus would, so exposition cost is part of the agent's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench import estate_server  # noqa: E402

ANCHOR_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)


# --- the catalogue -------------------------------------------------------------------------


def service_urls(bases: list[str], services: int) -> list[str]:
    return [f"{bases[i % len(bases)]}/svc/{i}" for i in range(services)]


def catalogue_yaml(urls: list[str], interval: float, http_options: str = "") -> str:
    """`http_options`: more keys of every check's http block, e.g. `reuse_connection: true, `."""
    lines = [
        "version: 1",
        f"tiers: {{bronze: {{interval: {interval:g}s}}}}",
        "services:",
    ]
    for i, url in enumerate(urls):
        sid = f"s{i:05d}"
        lines.append(
            f"  - {{id: {sid}, name: {sid}, macro_service: comunicacoes, tier: bronze,"
            f' checks: [{{http: {{{http_options}url: "{url}"}}}}]}}'
        )
    return "\n".join(lines) + "\n"


# --- an estate whose origins close idle connections, over TLS (#17 defect 8) ----------------
# bench/estate_server.py's responder, plus what real servers do: close a connection idle for
# `--idle-close` s; `--tls`: one certificate per origin from a CA made for the run (trustme).


class _IdleClosing(estate_server._Responder):
    def __init__(self, idle_close: float | None) -> None:
        self.idle_close = idle_close
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def _arm(self) -> None:
        if self.idle_close is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.idle_close, self.transport.close)


def _serve_estate(socks: list[socket.socket], idle_close: float | None, certs: list[str]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        contexts: list[ssl.SSLContext | None] = [None] * len(socks)
        for i, pem in enumerate(certs):
            contexts[i] = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            contexts[i].load_cert_chain(pem)  # type: ignore[union-attr]
        servers = [
            await loop.create_server(
                lambda: _IdleClosing(idle_close), sock=sock, backlog=4096, ssl=context
            )
            for sock, context in zip(socks, contexts, strict=True)
        ]
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(main())


def estate_origins(count: int) -> list[socket.socket]:
    """127.0.0.2 ... 127.0.0.251, then 127.0.1.2 ...: up to 62,500 distinct loopback hosts."""
    hosts = (f"127.0.{i // 250}.{2 + i % 250}" for i in range(count))
    return [socket.create_server((host, 0), backlog=4096) for host in hosts]


def estate_certificates(socks: list[socket.socket], work: Path) -> tuple[str, list[str]]:
    """The CA file and, per origin, a key + chain file for its address."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    pems = []
    for i, sock in enumerate(socks):
        path = work / f"origin-{i}.pem"
        ca.issue_cert(sock.getsockname()[0]).private_key_and_cert_chain_pem.write_to_path(str(path))
        pems.append(str(path))
    return str(work / "ca.pem"), pems


def start_estate(args: argparse.Namespace, work: Path) -> tuple[Any, list[str], str | None]:
    """The estate process, its base URLs and the CA file (TLS) or None."""
    if not (args.idle_close or args.tls or args.servers > 250):
        socks = estate_server.origins(args.servers)
        return estate_server.start(socks), estate_server.base_urls(socks), None
    socks = estate_origins(args.servers)
    ca, certs = estate_certificates(socks, work) if args.tls else (None, [])
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_estate, args=(socks, args.idle_close, certs), daemon=True, name="estate"
    )
    process.start()
    scheme = "https" if args.tls else "http"
    return process, [f"{scheme}://{h}:{p}" for h, p, *_ in (s.getsockname() for s in socks)], ca


# --- the peer: bare httpx, one shared client per origin --------------------------------------


async def _peer(
    urls: list[str], interval: float, duration: float, warmup: float, fresh: bool, ca: str | None
) -> dict[str, Any]:
    """`fresh`: no keep-alive, a new connection per request (what vigia does by default);
    `ca`: the CA file of a TLS estate."""
    limits = httpx.Limits(max_keepalive_connections=0) if fresh else httpx.Limits()
    # one context for every client: httpx's default makes one per client (certifi loaded
    # each time), 1.6 GB and a slow GC for 2,000 origins
    verify = ssl.create_default_context(cafile=ca)
    clients: dict[str, httpx.AsyncClient] = {}
    for url in urls:
        origin = url.rsplit("/svc/", 1)[0]
        if origin not in clients:
            clients[origin] = httpx.AsyncClient(timeout=10.0, limits=limits, verify=verify)
    targets = [(clients[url.rsplit("/svc/", 1)[0]], url) for url in urls]
    done = {"ok": 0, "failed": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def one(client: httpx.AsyncClient, url: str) -> None:
        try:
            response = await client.get(url)
            done["ok" if response.status_code == 200 else "failed"] += 1
        except httpx.HTTPError:
            done["failed"] += 1

    loop = asyncio.get_running_loop()
    n, step = len(targets), interval / len(targets)
    start = loop.time() + 0.2
    end = start + warmup + duration
    mark: dict[str, float] = {}
    fired = 0
    while True:
        due = start + fired * step
        if due >= end or loop.time() >= end:  # starved: the window still ends on time
            break
        if not mark and due >= start + warmup:
            mark = {"cpu": time.process_time(), "wall": time.perf_counter(), **done}
        now = loop.time()
        if due > now:
            await asyncio.sleep(due - now)
        while start + fired * step <= loop.time() and start + fired * step < end:
            client, url = targets[fired % n]
            task = loop.create_task(one(client, url))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            fired += 1
    cpu, wall = time.process_time(), time.perf_counter()
    completed = done["ok"] + done["failed"] - mark["ok"] - mark["failed"]
    result = {
        "cpu_s": cpu - mark["cpu"],
        "wall_s": wall - mark["wall"],
        "requests": completed,
        "failed": done["failed"],
        "cpu_ms_per_request": (cpu - mark["cpu"]) / completed * 1000,
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }
    await asyncio.gather(*tasks)
    for client in clients.values():
        await client.aclose()
    return result


def peer_child(args: argparse.Namespace) -> None:
    urls = json.loads(Path(args.peer_child).read_text())
    fresh, ca = not args.reuse_connection, args.peer_ca
    coro = _peer(urls, args.interval, args.peer_duration, args.peer_warmup, fresh, ca)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        print(json.dumps(runner.run(coro)))


def _loop_factory() -> Any:
    """The agent's choice (agent/commands/run.py): uvloop where installed."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_peer(urls_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--peer-child", str(urls_file)]
    cmd += ["--interval", str(args.interval), "--peer-duration", str(args.peer_duration)]
    cmd += ["--peer-warmup", str(args.peer_warmup)]
    cmd += ["--reuse-connection"] if args.reuse_connection else []
    cmd += ["--peer-ca", str(args.peer_ca)] if args.peer_ca else []
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["load1_before"] = load
    print(f"peer: {result}", flush=True)
    return result


# --- scraping the agent ----------------------------------------------------------------------


@dataclass
class Scrape:
    wall: float
    results: float = 0.0
    outcomes: dict[str, float] = field(default_factory=dict)
    lateness_buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative)
    overlaps: float = 0.0
    queue_depth: float = 0.0
    in_flight: float = 0.0
    refresh_seconds: dict[str, float] = field(default_factory=dict)  # store-derived metrics


def scrape(port: int) -> Scrape:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    got = Scrape(wall=time.time())
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vigia_check_results_total":
                got.results += sample.value
                outcome = sample.labels["result"]
                got.outcomes[outcome] = got.outcomes.get(outcome, 0.0) + sample.value
            elif sample.name == "vigia_probe_start_lateness_seconds_bucket":
                got.lateness_buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "vigia_probe_overlaps_total":
                got.overlaps = sample.value
            elif sample.name == "vigia_store_queue_depth":
                got.queue_depth = sample.value
            elif sample.name == "vigia_probes_in_flight":
                got.in_flight = sample.value
            elif sample.name == "vigia_metrics_refresh_duration_seconds":
                got.refresh_seconds[sample.labels.get("part", "")] = sample.value
    got.lateness_buckets.sort()
    return got


def histogram_quantile(q: float, first: Scrape, last: Scrape) -> tuple[float, float]:
    """(interpolated value, bucket upper bound) of quantile q of the bucket-count delta."""
    before = dict(first.lateness_buckets)
    cumulative = [(le, count - before.get(le, 0.0)) for le, count in last.lateness_buckets]
    total = cumulative[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in cumulative:
        if count >= rank:
            if le == float("inf"):
                return lower, le
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 0.0), le
        lower, below = le, count
    return lower, float("inf")


# --- reading the agent process from outside --------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def rss_mb(process: psutil.Process) -> float:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        total += child.memory_info().rss
    return total / 2**20


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def system_busy(before: Any, after: Any) -> float:
    """Cores busy, whole machine, between two psutil.cpu_times() readings."""
    fields = ("user", "nice", "system", "irq", "softirq", "steal")
    busy = sum(getattr(after, f) - getattr(before, f) for f in fields)
    total = busy + (after.idle - before.idle) + (after.iowait - before.iowait)
    return busy / total * psutil.cpu_count() if total else 0.0


# --- the db, after the run -------------------------------------------------------------------


def phase_us(check_id: str, interval: float) -> int:
    from agent.scheduler import phase_seconds

    return round(phase_seconds(check_id, interval) * 1_000_000)


def analyse_db(
    db: Path, interval: float, window: tuple[float, float], ticks: tuple[float, float]
) -> dict[str, Any]:
    """Exact lateness in `window`, probes per check, skipped/doubled due ticks in `ticks`."""
    step = round(interval * 1_000_000)
    w0, w1 = (round(t * 1_000_000) for t in window)
    t0, t1 = (round(t * 1_000_000) for t in ticks)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute('SELECT "check", started_at FROM probe_results').fetchall()
    durations = sorted(
        d
        for (d,) in conn.execute(
            "SELECT duration FROM probe_results WHERE started_at >= ? AND started_at < ?", (w0, w1)
        )
    )
    by_check: dict[str, list[int]] = defaultdict(list)
    for check, started in rows:
        by_check[check].append(started)
    lateness: list[float] = []
    in_window = skipped = doubled = 0
    for check, starts in by_check.items():
        first = ANCHOR_US + phase_us(check, interval)
        dues = [first + (s - first) // step * step for s in starts]
        for start, due in zip(starts, dues, strict=True):
            if w0 <= start < w1:
                in_window += 1
                lateness.append((start - due) / 1_000_000)
        expected = range(first + -(-(t0 - first) // step) * step, t1, step)
        seen = [d for d in dues if t0 <= d < t1]
        skipped += len(set(expected) - set(seen))
        doubled += len(seen) - len(set(seen))
    lateness.sort()
    tables = dict(
        conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name HAVING SUM(pgsize) > 65536"
        ).fetchall()
    )
    counts = {
        name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
        for name in ("probe_results", "check_rollups", "check_status", "service_status")
    }
    conn.close()
    return {
        "checks_with_results": len(by_check),
        "rows": len(rows),
        "probes_in_window": in_window,
        "lateness_p50": _quantile(lateness, 0.50),
        "lateness_p99": _quantile(lateness, 0.99),
        "lateness_max": lateness[-1] if lateness else None,
        "lateness_over_1s": sum(1 for x in lateness if x >= 1.0),
        "duration_p50": _quantile(durations, 0.50),
        "duration_p99": _quantile(durations, 0.99),
        "skipped_ticks": skipped,
        "doubled_ticks": doubled,
        "expected_ticks_per_check": (t1 - t0) / step,
        "table_bytes": tables,
        "row_counts": counts,
    }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[max(0, math.ceil(q * len(values)) - 1)]  # nearest rank


# --- the agent run ---------------------------------------------------------------------------


def prepare_db(db: Path) -> None:
    """The schema only, so the growth measured is the records' alone."""
    from agent.store.sql import SqlStore
    from agent.store.url import database_url

    SqlStore.open(database_url(str(db))).close()


def wait_ready(port: int, process: subprocess.Popen[bytes], limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"agent exited with {process.returncode} before it was ready")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("agent not ready in time")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_agent(work: Path, catalog: Path, args: argparse.Namespace) -> dict[str, Any]:
    db = work / "vigia.db"
    prepare_db(db)
    size_start = db_bytes(db)
    port = free_port()
    cmd = [sys.executable, "-m", "agent.cli", "--catalog", str(catalog), "--db", str(db)]
    cmd += ["run", "--listen", f"127.0.0.1:{port}"]
    log = (work / "agent.log").open("wb")
    launched = time.time()
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    agent = psutil.Process(process.pid)
    try:
        wait_ready(port, process)
        ready = time.time()
        print(f"agent ready after {ready - launched:.1f} s (pid {process.pid})", flush=True)
        measured = _window(agent, port, db, ready, args)
        stop = time.time()
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=120)
        stopped = time.time()
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    measured.update(
        launched=launched,
        ready=ready,
        stop=stop,
        shutdown_s=stopped - stop,
        exit_code=exit_code,
        startup_s=ready - launched,
        db_bytes_start=size_start,
        db_bytes_end=db_bytes(db),
        db=str(db),
    )
    window = (measured["cpu_t0"], measured["cpu_t1"])
    # Ticks due from one second after ready (the scheduler started before /healthz answered)
    # to two seconds before SIGTERM (those started before it; SIGTERM drains in-flight ones).
    ticks = (ready + 1.0, stop - 2.0)
    measured["db"] = analyse_db(db, args.interval, window, ticks)
    return measured


def _window(
    agent: psutil.Process, port: int, db: Path, ready: float, args: argparse.Namespace
) -> dict[str, Any]:
    rss: list[float] = []
    depth: list[float] = []
    refresh: list[dict[str, float]] = []
    _sleep_until(ready + args.interval, agent, rss)  # warm-up: the first interval
    first = scrape(port)
    cpu0, t0, sys0 = cpu_seconds(agent), time.time(), psutil.cpu_times()
    load_t0 = os.getloadavg()[0]
    db_t0 = db_bytes(db)
    end = t0 + args.duration
    next_scrape = t0 + args.scrape_every
    while next_scrape < end - 1:
        _sleep_until(next_scrape, agent, rss)
        got = scrape(port)
        depth.append(got.queue_depth)
        refresh.append(got.refresh_seconds)
        next_scrape += args.scrape_every
    _sleep_until(end, agent, rss)
    cpu1, t1, sys1 = cpu_seconds(agent), time.time(), psutil.cpu_times()
    db_t1 = db_bytes(db)
    last = scrape(port)
    depth.append(last.queue_depth)
    return {
        "cpu_t0": t0,
        "cpu_t1": t1,
        "load_t0": load_t0,
        "cpu_s": cpu1 - cpu0,
        "machine_busy_cores": system_busy(sys0, sys1),
        "peak_rss_mb": peak_rss_mb(agent.pid),
        "final_rss_mb": rss_mb(agent),
        "max_sampled_rss_mb": max(rss),
        "metrics_results": last.results - first.results,
        "metrics_outcomes": {k: v - first.outcomes.get(k, 0.0) for k, v in last.outcomes.items()},
        "hist_p50": histogram_quantile(0.50, first, last),
        "hist_p99": histogram_quantile(0.99, first, last),
        "hist_count": last.lateness_buckets[-1][1] - first.lateness_buckets[-1][1],
        "overlaps": last.overlaps,
        "queue_depth_max": max(depth),
        "metrics_refresh_seconds": [*refresh, last.refresh_seconds],
        "db_bytes_t0": db_t0,
        "db_bytes_t1": db_t1,
    }


def _sleep_until(moment: float, agent: psutil.Process, rss: list[float]) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(1.0, left))
        rss.append(rss_mb(agent))


# --- report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "loop": "uvloop" if _loop_factory() else "asyncio (uvloop not installed)",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def summarise(args: argparse.Namespace, agent: dict[str, Any], peers: list[dict[str, Any]]) -> str:
    db = agent["db"]
    probes = db["probes_in_window"]
    agent_ms = agent["cpu_s"] / probes * 1000
    peer_ms = sum(p["cpu_s"] for p in peers) / sum(p["requests"] for p in peers) * 1000
    run_days = (agent["stop"] - agent["ready"]) / 86400
    growth = (agent["db_bytes_end"] - agent["db_bytes_start"]) / (args.services * run_days)
    window_days = (agent["cpu_t1"] - agent["cpu_t0"]) / 86400
    growth_window = (agent["db_bytes_t1"] - agent["db_bytes_t0"]) / (args.services * window_days)
    expected = args.services * (agent["cpu_t1"] - agent["cpu_t0"]) / args.interval
    p50, p99 = db["lateness_p50"], db["lateness_p99"]
    outcomes = {k: int(v) for k, v in agent["metrics_outcomes"].items() if v}
    h50, h99 = agent["hist_p50"], agent["hist_p99"]
    lines = [
        f"- window: {agent['cpu_t1'] - agent['cpu_t0']:.1f} s after a {args.interval:g} s warm-up;"
        f" agent start-up (catalogue load to /healthz) {agent['startup_s']:.1f} s;"
        f" SIGTERM to exit {agent['shutdown_s']:.1f} s, exit code {agent['exit_code']}",
        f"- probes in the window: {probes} (db), {agent['metrics_results']:.0f} (metrics);"
        f" expected {expected:.0f} (services x window / interval); outcomes"
        f" {outcomes}",
        f"- whole-agent CPU: {agent['cpu_s']:.1f} s = **{agent_ms:.3f} ms per probe**"
        f" ({agent['cpu_s'] / (agent['cpu_t1'] - agent['cpu_t0']) * 100:.0f} % of one core)",
        "- bare httpx peer: "
        + ", ".join(f"{p['cpu_ms_per_request']:.3f} ms/req ({p['requests']} req)" for p in peers)
        + f" -> **{peer_ms:.3f} ms per request**; ratio agent/peer **{agent_ms / peer_ms:.2f}x**",
        f"- lateness (exact, db): p50 **{p50 * 1000:.1f} ms**, p99 **{p99 * 1000:.1f} ms**,"
        f" max {db['lateness_max'] * 1000:.0f} ms, {db['lateness_over_1s']} probes >= 1 s;"
        f" probe duration p50 {db['duration_p50'] * 1000:.1f} ms,"
        f" p99 {db['duration_p99'] * 1000:.1f} ms",
        f"- lateness (histogram delta, {agent['hist_count']:.0f} observations, interpolated):"
        f" p50 {h50[0] * 1000:.1f} ms (bucket le {h50[1]:g}), p99 {h99[0] * 1000:.1f} ms"
        f" (bucket le {h99[1]:g})",
        f"- RSS: peak **{agent['peak_rss_mb']:.0f} MB** (VmHWM),"
        f" final {agent['final_rss_mb']:.0f} MB",
        f"- skipped due ticks: **{db['skipped_ticks']}**, started twice: {db['doubled_ticks']}"
        f" ({db['checks_with_results']} checks with results, {db['expected_ticks_per_check']:.2f}"
        f" ticks each between start-up and SIGTERM); overlaps metric {agent['overlaps']:.0f};"
        f" store queue depth max {agent['queue_depth_max']:.0f}",
        f"- db growth: **{growth / 1024:.1f} KiB per service-day** over the whole run"
        f" ({(agent['db_bytes_end'] - agent['db_bytes_start']) / 2**20:.1f} MiB, checkpointed);"
        f" {growth_window / 1024:.1f} KiB over the window (db + WAL files, WAL not checkpointed)",
        f"- db bytes by table: {db['table_bytes']}; rows: {db['row_counts']}",
        f"- whole machine busy during the window: {agent['machine_busy_cores']:.2f} cores of"
        f" {psutil.cpu_count()}; load average at its start {agent['load_t0']:.2f}; peers'"
        f" failed requests {[p['failed'] for p in peers]}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=180.0, help="measured window, s")
    parser.add_argument("--servers", type=int, default=20, help="loopback origins")
    parser.add_argument("--peer-duration", type=float, default=60.0)
    parser.add_argument("--peer-warmup", type=float, default=10.0)
    parser.add_argument("--scrape-every", type=float, default=30.0)
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--keep", help="work in this directory and keep it (db, log, catalogue)")
    parser.add_argument("--idle-close", type=float, help="origins close connections idle this long")
    parser.add_argument("--tls", action="store_true", help="https origins, a CA made for the run")
    parser.add_argument(
        "--reuse-connection",
        action="store_true",
        help="vigia with reuse_connection: true and a pooling peer (default: a new connection"
        " per probe for both)",
    )
    parser.add_argument("--peer-ca", help=argparse.SUPPRESS)
    parser.add_argument("--peer-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_child:
        peer_child(args)
        return
    print(json.dumps(machine()), flush=True)
    with tempfile.TemporaryDirectory(prefix="vigia-scale-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        estate, bases, args.peer_ca = start_estate(args, work)
        urls = service_urls(bases, args.services)
        (work / "urls.json").write_text(json.dumps(urls))
        catalog = work / "services.yaml"
        options = "reuse_connection: true, " if args.reuse_connection else ""
        options += f'ca_bundle: "{args.peer_ca}", ' if args.peer_ca else ""
        catalog.write_text(catalogue_yaml(urls, args.interval, options))
        try:
            peers = [run_peer(work / "urls.json", args)]
            agent = run_agent(work, catalog, args)
            peers.append(run_peer(work / "urls.json", args))
        finally:
            estate.terminate()
            estate.join()
    report = summarise(args, agent, peers)
    print(report)
    if args.json:
        figures = {"machine": machine(), "args": vars(args), "agent": agent, "peers": peers}
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
