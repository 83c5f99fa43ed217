"""Ingest benchmark (issue #14): a core taking several locations' results, and a worker's cost.

    python bench/ingest.py [--checks 10000] [--locations 3] [--interval 30] [--duration 60]
                           [--warmup 210] [--stores sqlite,postgres] [--postgres-url URL]
                           [--part core,worker] [--servers 20] [--profile] [--json FILE]

**Part `core`**: `vigia run` (its own process, HTTPS with a private CA, the settings and the
catalogue generated: `--checks` services of one check each, run from `--locations` worker
locations at `--interval`, `local` not among them so the core probes nothing itself) on a fresh
SQLite file, then on PostgreSQL (`--postgres-url`, default the local test database, in a fresh
schema dropped afterwards). One process per location pushes that location's results over the
real ingest API (`POST /api/v1/probe/results` with the location's probe token), as
`vigia probe` does: results are due at the scheduler's tick of each check (its stable phase),
take 20 ms, and are pushed oldest first in batches of at most 500 (the worker commits what it
holds to its spool right before each push, `push_once`); after a batch that was not full the
sender waits `push_every` (0.5 s) from the acknowledgement. The workers' *results are
simulated* (no 30,000 real probes): the aim is the core's ingest cost, and 30,000 probes every
30 s would take this machine's both cores. One
check in 100 fails at each location (a different one per location: below-quorum problems,
LocationCheckFailing, no outage).

Measured over `--duration` seconds after `--warmup` (by default 7 intervals: until a fresh
catalogue's flap histories have filled with one state, the alert rules of a service are
evaluated again at each of its results, which is start-up cost, not the steady state):
- from probe start to verdict: for every result acknowledged in the window, the ack's arrival
  minus the result's `started_at`. The core acknowledges a batch only after the engine judged it
  and the store committed it (agent/api/probe.py), so this is probe start -> committed verdict,
  including the worker-side waits (flush, push cadence) a real worker has; p50/p99/max, and the
  batch round trip (send -> ack) apart;
- CPU per result of the core process: user+system of the process and its threads from /proc
  (psutil), over the window, divided by the results it acknowledged in the window;
- the results stored (rows), which must equal those acknowledged: stored once.

**Part `worker`**: CPU per probe of `vigia probe` against `vigia run`'s own, on the same estate:
`--checks` HTTP checks at `--interval` against bench/estate_server.py's loopback origins (as
bench/scale.py). First `vigia run` with the checks local (bench/scale.py's measurement: whole
process CPU over the window / probes started in it); then a core whose checks all run from one
location and a real `vigia probe` for it (spool, batches, HTTPS push), measured as a process:
its CPU over the window / the probes it ran in it (its `vigia_worker_probes_total` delta).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from agent.locations.wire import PUSH_EVERY_SECONDS  # noqa: E402
from bench import estate_server, scale  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROBE_SECONDS = 0.02  # a simulated probe's duration
PUSH_EVERY = PUSH_EVERY_SECONDS
BATCH = 500  # agent/locations/worker.py DEFAULT_BATCH
PROFILE = False  # --profile: the core under cProfile (core.prof in its work directory)
LOCATION_NAMES = ("lisboa", "porto", "viseu", "faro", "braga", "evora", "internet")


# --- files: certificate, settings, catalogue --------------------------------------------------


def make_tls(work: Path) -> tuple[Path, Path, Path]:
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = work / "core.pem", work / "core.key", work / "ca.pem"
    issued.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    return cert, key, ca_file


def write_settings(
    work: Path,
    port: int,
    db: str,
    tokens: dict[str, str],
    tls: Any,
    extra: tuple[str, ...] = (),
    name: str = "vigia.yaml",
) -> Path:
    """`extra`: more lines of the settings (bench/cluster_throughput.py's `cluster:`)."""
    from agent.api.auth import hash_token

    cert, key, _ca = tls
    lines = [
        f"listen: 127.0.0.1:{port}",
        f"tls_cert: {cert}",
        f"tls_key: {key}",
        f"db: '{db}'",
        f"catalog: {work / 'services.yaml'}",
        "tokens:",
        f"  - {{name: admin, role: admin, hash: '{hash_token(tokens['admin'])}'}}",
        "locations:",
        *(f"  - {{name: {n}, hash: '{hash_token(t)}'}}" for n, t in tokens.items() if n != "admin"),
        *extra,
    ]
    path = work / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def located_catalogue(checks: int, interval: float, locations: list[str], urls: list[str]) -> str:
    """One service per check, every check run from `locations` only (not `local`)."""
    lines = [
        "version: 1",
        f"tiers: {{bronze: {{interval: {interval:g}s}}}}",
        "services:",
    ]
    where = ", ".join(locations)
    for i in range(checks):
        sid, url = f"s{i:05d}", urls[i % len(urls)]
        lines.append(
            f"  - {{id: {sid}, name: {sid}, macro_service: comunicacoes, tier: bronze,"
            f' locations: [{where}], checks: [{{name: web, http: {{url: "{url}"}}}}]}}'
        )
    return "\n".join(lines) + "\n"


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema on `base`, dropped afterwards; the URL that uses it."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"bench_ingest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(url: str) -> None:
    from agent.store.sql import SqlStore

    SqlStore.open(url).close()


def stored_rows(url: str) -> int:
    from sqlalchemy import func, select

    from agent.store import schema
    from agent.store.sql import SqlStore

    store = SqlStore.open(url)
    try:
        with store.transaction() as conn:
            count = select(func.count()).select_from(schema.probe_results)
            return int(conn.execute(count).scalar() or 0)
    finally:
        store.close()


# --- the core process --------------------------------------------------------------------------


@contextmanager
def core_process(
    work: Path, settings: Path, port: int, ca_file: Path, name: str = "core"
) -> Iterator[psutil.Process]:
    process = start_core(work, settings, name)
    try:
        wait_answering(process, port, ca_file, work / f"{name}.log")
        yield psutil.Process(process.pid)
    finally:
        stop_core(process)


def start_core(work: Path, settings: Path, name: str = "core") -> subprocess.Popen[bytes]:
    """`vigia run` with these settings, its output in `<name>.log` (and `<name>.prof`)."""
    profile = ["-m", "cProfile", "-o", str(work / f"{name}.prof")] if PROFILE else []
    cmd = [sys.executable, *profile, "-m", "agent.cli", "--config", str(settings), "run"]
    with (work / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT)


def wait_answering(
    process: subprocess.Popen[bytes], port: int, ca_file: Path, log: Path, limit: float = 300
) -> None:
    """Until the core answers /healthz over HTTPS (a 503 while warming up is an answer)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + limit
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the core exited with {process.returncode}: see {log}")
        try:
            urllib.request.urlopen(
                f"https://127.0.0.1:{port}/healthz", timeout=2, context=context
            ).read()
            return
        except urllib.error.HTTPError:
            return  # 503 while warming up is an answer
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the core never answered") from None
            time.sleep(0.2)


def stop_core(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(120)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()  # /proc/<pid>/stat: every thread of the process
    return times.user + times.system + times.children_user + times.children_system


# --- a simulated worker (one process per location) --------------------------------------------


def sender_child(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    summary = asyncio.run(_send(spec))
    Path(spec["out"]).write_text(json.dumps(summary))


def _due_results(spec: dict[str, Any]) -> Iterator[tuple[float, str, bool]]:
    """(started_at epoch, check, fails) in time order, from the first tick after `start`."""
    from agent.scheduler import ANCHOR, phase_seconds

    interval = spec["interval"]
    phased = sorted((phase_seconds(c, interval), c) for c in spec["checks"])
    fails = {c for i, c in enumerate(spec["checks"]) if i % 100 == spec["index"]}
    anchor = ANCHOR.timestamp()
    cycle = (spec["start"] - anchor) // interval
    while True:
        base = anchor + cycle * interval
        for phase, check in phased:
            if base + phase >= spec["start"]:
                yield base + phase, check, check in fails
        cycle += 1


def _wire(started: float, check: str, fails: bool) -> dict[str, Any]:
    at = datetime.fromtimestamp(started, UTC).isoformat()
    if fails:
        return {"check": check, "started_at": at, "duration": PROBE_SECONDS, "outcome": "fail",
                "reason": "connect failed: connection refused",
                "measurements": {"connect": 0.0004, "connection": "new"}}  # fmt: skip
    measured = {"status_code": 200, "body_bytes": 16, "latency": 0.012, "connect": 0.0004,
                "ttfb": 0.011, "connection": "reused"}  # fmt: skip
    return {"check": check, "started_at": at, "duration": PROBE_SECONDS, "outcome": "ok",
            "reason": "", "measurements": measured}  # fmt: skip


async def _send(spec: dict[str, Any]) -> dict[str, Any]:
    due = _due_results(spec)
    upcoming = next(due)
    spooled: list[tuple[float, dict[str, Any]]] = []
    latencies: list[float] = []
    round_trips: list[float] = []
    window = (spec["start"] + spec["warmup"], spec["start"] + spec["warmup"] + spec["duration"])
    context = ssl.create_default_context(cafile=spec["ca_file"])
    headers = {"Authorization": f"Bearer {spec['token']}"}
    acked = acked_total = refused = 0
    cores: list[str] = spec["cores"]  # a worker may push to any node of a cluster: in turn
    by_core = dict.fromkeys(cores, 0)  # acknowledged in the window, per core
    sent_batches = 0
    async with httpx.AsyncClient(verify=context, timeout=60, headers=headers) as client:
        await asyncio.sleep(max(0.0, spec["start"] - time.time()))
        # `linger`: pushing on after the window, so results due near its end are stored too
        while time.time() < window[1] + spec.get("linger", 0.0):
            now = time.time()
            while upcoming[0] + PROBE_SECONDS <= now:  # push_once flushes what it holds first
                spooled.append((upcoming[0], _wire(*upcoming)))
                upcoming = next(due)
            batch, spooled = spooled[:BATCH], spooled[BATCH:]
            body = {"location": spec["location"], "worker_clock": datetime.now(UTC).isoformat(),
                    "worker_version": "bench", "results": [w for _at, w in batch]}  # fmt: skip
            sent, core = time.time(), cores[sent_batches % len(cores)]
            sent_batches += 1
            reply = await client.post(f"{core}/api/v1/probe/results", json=body)
            acked_at = time.time()
            if reply.status_code != 200:
                refused += 1
                print(f"{spec['location']}: {reply.status_code} {reply.text[:300]}", flush=True)
                spooled = batch + spooled
                await asyncio.sleep(1.0)
                continue
            acked_total += reply.json()["accepted"]
            if window[0] <= acked_at < window[1]:
                acked += reply.json()["accepted"]
                by_core[core] += reply.json()["accepted"]
                latencies += [acked_at - started for started, _w in batch]
                if batch:
                    round_trips.append(acked_at - sent)
            if len(batch) < BATCH:
                await asyncio.sleep(PUSH_EVERY)
    return {"location": spec["location"], "acked": acked, "acked_total": acked_total,
            "refused_batches": refused, "latencies": latencies, "round_trips": round_trips,
            "backlog": len(spooled), "acked_by_core": by_core}  # fmt: skip


def run_senders(
    work: Path,
    cores: list[str],
    tokens: dict[str, str],
    checks: list[str],
    args: argparse.Namespace,
    start: float,
) -> list[subprocess.Popen[bytes]]:
    children = []
    for index, location in enumerate(n for n in tokens if n != "admin"):
        spec = {"location": location, "index": index, "token": tokens[location], "cores": cores,
                "ca_file": str(work / "ca.pem"), "checks": checks, "interval": args.interval,
                "start": start, "warmup": args.warmup, "duration": args.duration,
                "linger": getattr(args, "linger", 0.0),
                "out": str(work / f"sender-{location}.json")}  # fmt: skip
        path = work / f"sender-{location}-spec.json"
        path.write_text(json.dumps(spec))
        log = (work / f"sender-{location}.log").open("ab")
        cmd = [sys.executable, __file__, "--sender-child", str(path)]
        children.append(subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    return children


# --- part core -----------------------------------------------------------------------------------


def core_part(store: str, url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from agent.api.auth import new_token

    names = list(LOCATION_NAMES[: args.locations])
    tokens = {name: new_token() for name in (*names, "admin")}
    tls = make_tls(work)
    port = scale.free_port()
    checks = [f"s{i:05d}/web" for i in range(args.checks)]
    (work / "services.yaml").write_text(
        located_catalogue(args.checks, args.interval, names, ["http://127.0.0.1:9/x"])
    )
    settings = write_settings(work, port, url, tokens, tls)
    prepare(url)
    with core_process(work, settings, port, tls[2]) as core:
        start = time.time() + 3.0  # the senders' imports
        senders = run_senders(work, [f"https://127.0.0.1:{port}"], tokens, checks, args, start)
        time.sleep(max(0.0, start + args.warmup - time.time()))
        cpu0, t0, load0 = cpu_seconds(core), time.time(), os.getloadavg()
        sys0 = psutil.cpu_times()
        time.sleep(max(0.0, start + args.warmup + args.duration - time.time()))
        cpu1, t1, load1 = cpu_seconds(core), time.time(), os.getloadavg()
        busy = scale.system_busy(sys0, psutil.cpu_times())
        rss = core.memory_info().rss / 2**20
        for child in senders:
            child.wait(120)
    rows = stored_rows(url)
    sent = [json.loads((work / f"sender-{n}.json").read_text()) for n in names]
    latencies = sorted(x for s in sent for x in s["latencies"])
    trips = sorted(x for s in sent for x in s["round_trips"])
    acked = sum(s["acked"] for s in sent)
    return {
        "store": store,
        "window_s": t1 - t0,
        "core_cpu_s": cpu1 - cpu0,
        "results_acked": acked,
        "results_per_s": acked / (t1 - t0),
        "cpu_ms_per_result": (cpu1 - cpu0) / acked * 1000 if acked else None,
        "core_share_of_a_core": (cpu1 - cpu0) / (t1 - t0),
        "latency_p50": scale._quantile(latencies, 0.50),
        "latency_p99": scale._quantile(latencies, 0.99),
        "latency_max": latencies[-1] if latencies else None,
        "round_trip_p50": scale._quantile(trips, 0.50),
        "round_trip_p99": scale._quantile(trips, 0.99),
        "batches": len(trips),
        "refused_batches": sum(s["refused_batches"] for s in sent),
        "backlog_at_end": sum(s["backlog"] for s in sent),
        "rows_stored": rows,
        "acked_total": sum(s["acked_total"] for s in sent),
        "core_rss_mb": rss,
        "load_before": load0,
        "load_after": load1,
        "machine_busy_cores": busy,
    }


# --- part worker ---------------------------------------------------------------------------------


def worker_part(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    socks = estate_server.origins(args.servers)
    estate = estate_server.start(socks)
    try:
        urls = scale.service_urls(estate_server.base_urls(socks), args.checks)
        local = work / "local"
        local.mkdir()
        (local / "services.yaml").write_text(scale.catalogue_yaml(urls, args.interval))
        agent_args = argparse.Namespace(
            interval=args.interval, duration=args.duration, scrape_every=args.duration / 2
        )
        load0 = os.getloadavg()
        agent = scale.run_agent(local, local / "services.yaml", agent_args)
        run_ms = agent["cpu_s"] / agent["db"]["probes_in_window"] * 1000
        worker = _measure_worker(work / "worker", urls, args)
    finally:
        estate.terminate()
        estate.join()
    return {
        "vigia_run": {
            "cpu_s": agent["cpu_s"],
            "probes": agent["db"]["probes_in_window"],
            "cpu_ms_per_probe": run_ms,
            "lateness_p99": agent["db"]["lateness_p99"],
            "machine_busy_cores": agent["machine_busy_cores"],
            "load_before": load0,
        },
        "vigia_probe": worker,
        "ratio": worker["cpu_ms_per_probe"] / run_ms,
    }


def _measure_worker(work: Path, urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from agent.api.auth import new_token

    work.mkdir()
    tokens = {"porto": new_token(), "admin": new_token()}
    tls = make_tls(work)
    port, health = scale.free_port(), scale.free_port()
    (work / "services.yaml").write_text(
        located_catalogue(args.checks, args.interval, ["porto"], urls)
    )
    url = f"sqlite:///{work / 'vigia.db'}"
    settings = write_settings(work, port, url, tokens, tls)
    prepare(url)
    with core_process(work, settings, port, tls[2]):
        env = {**os.environ, "VIGIA_PROBE_TOKEN": tokens["porto"]}
        cmd = [sys.executable, "-m", "agent.cli", "probe", "--location", "porto",
               "--core", f"https://127.0.0.1:{port}", "--ca-file", str(tls[2]),
               "--spool", str(work / "spool.db"), "--listen", f"127.0.0.1:{health}"]  # fmt: skip
        log = (work / "worker.log").open("ab")
        process = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            worker = psutil.Process(process.pid)
            _wait_metrics(health, process)
            load0 = os.getloadavg()
            time.sleep(args.interval)  # warm-up: the first interval, as bench/scale.py
            probes0, cpu0, t0 = _worker_probes(health), cpu_seconds(worker), time.time()
            sys0 = psutil.cpu_times()
            time.sleep(args.duration)
            probes1, cpu1, t1 = _worker_probes(health), cpu_seconds(worker), time.time()
            busy = scale.system_busy(sys0, psutil.cpu_times())
            depth = _worker_metric(health, "vigia_worker_spool_depth")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
            log.close()
    probes = probes1 - probes0
    return {
        "cpu_s": cpu1 - cpu0,
        "window_s": t1 - t0,
        "probes": probes,
        "cpu_ms_per_probe": (cpu1 - cpu0) / probes * 1000 if probes else None,
        "spool_depth_at_end": depth,
        "machine_busy_cores": busy,
        "load_before": load0,
    }


def _wait_metrics(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vigia probe exited with {process.returncode}")
        try:
            if _worker_metric(port, "vigia_worker_checks") > 0:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("vigia probe never got its assignment")


def _worker_metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def _worker_probes(port: int) -> float:
    return _worker_metric(port, "vigia_worker_probes_total")


# --- report --------------------------------------------------------------------------------------


def report(core: list[dict[str, Any]], worker: dict[str, Any] | None) -> str:
    lines = []
    for c in core:
        lines.append(
            f"- core on {c['store']}: {c['results_acked']} results acknowledged in"
            f" {c['window_s']:.1f} s ({c['results_per_s']:.0f}/s); start to committed verdict"
            f" p50 {c['latency_p50']:.3f} s, **p99 {c['latency_p99']:.3f} s**, max"
            f" {c['latency_max']:.3f} s; batch round trip p50 {c['round_trip_p50'] * 1000:.0f} ms,"
            f" p99 {c['round_trip_p99'] * 1000:.0f} ms ({c['batches']} batches); core CPU"
            f" {c['core_cpu_s']:.1f} s = **{c['cpu_ms_per_result']:.3f} ms per result**"
            f" ({c['core_share_of_a_core'] * 100:.0f} % of a core); rows stored"
            f" {c['rows_stored']} of {c['acked_total']} acknowledged in the run; refused"
            f" batches {c['refused_batches']}; backlog at the end"
            f" {c['backlog_at_end']}; RSS {c['core_rss_mb']:.0f} MB; load average"
            f" {c['load_before'][0]:.2f} -> {c['load_after'][0]:.2f}; machine busy"
            f" {c['machine_busy_cores']:.2f} cores"
        )
    if worker:
        run, probe = worker["vigia_run"], worker["vigia_probe"]
        lines.append(
            f"- `vigia run`: {run['probes']} probes, CPU {run['cpu_s']:.1f} s ="
            f" **{run['cpu_ms_per_probe']:.3f} ms per probe** (lateness p99"
            f" {run['lateness_p99'] * 1000:.0f} ms; load {run['load_before'][0]:.2f}, machine"
            f" busy {run['machine_busy_cores']:.2f} cores)"
        )
        lines.append(
            f"- `vigia probe`: {probe['probes']:.0f} probes, CPU {probe['cpu_s']:.1f} s ="
            f" **{probe['cpu_ms_per_probe']:.3f} ms per probe**; spool depth at the end"
            f" {probe['spool_depth_at_end']:.0f} (load {probe['load_before'][0]:.2f}, machine"
            f" busy {probe['machine_busy_cores']:.2f} cores); ratio worker / run"
            f" **{worker['ratio']:.2f}**"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=3, choices=range(1, 8))
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=60.0, help="measured window, s")
    # 7 intervals: a fresh catalogue's flap histories (21 states) fill with one state, until
    # which the alert rules of a service are evaluated again at each of its results
    parser.add_argument("--warmup", type=float, default=210.0, help="before the window, s")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=os.environ.get("VIGIA_BENCH_POSTGRES_URL",
                                                                 POSTGRES_URL))  # fmt: skip
    parser.add_argument("--part", default="core,worker")
    parser.add_argument("--servers", type=int, default=20, help="loopback origins (worker part)")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--profile", action="store_true", help="cProfile the core (core.prof)")
    parser.add_argument("--sender-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.sender_child:
        sender_child(args.sender_child)
        return
    print(json.dumps(scale.machine()), flush=True)
    parts = set(args.part.split(","))
    core: list[dict[str, Any]] = []
    worker = None
    with tempfile.TemporaryDirectory(prefix="vigia-ingest-") as tmp:
        base = Path(args.keep or tmp)
        base.mkdir(parents=True, exist_ok=True)
        for store in args.stores.split(",") if "core" in parts else []:
            work = base / f"core-{store}"
            work.mkdir(parents=True)
            if store == "sqlite":
                core.append(core_part(store, f"sqlite:///{work / 'vigia.db'}", work, args))
            else:
                with postgres_schema(args.postgres_url) as url:
                    core.append(core_part(store, url, work, args))
            print(report(core[-1:], None), flush=True)
        if "worker" in parts:
            worker = worker_part(base, args)
    print(report(core, worker))
    if args.json:
        figures = {"machine": scale.machine(), "args": vars(args), "core": core, "worker": worker}
        for c in core:
            c.pop("latencies", None)
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
