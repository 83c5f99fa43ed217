"""Cluster throughput (issue #15): one `vigia run` node, then a 3-node cluster, same load.

Full run (the issue's goal: 10,000 checks at 30 s from `local` plus 2 remote locations, i.e.
1,000 results/s; about 15 minutes, on an otherwise idle machine):

    cd /work/main && VIGIA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        flock /tmp/bench.lock .venv/bin/python bench/cluster_throughput.py \\
        --json /tmp/cluster_throughput.json

(the defaults: --checks 10000 --interval 30 --warmup 210 --duration 120 --partitions 64
--lease 15). A small check run: `--checks 300 --warmup 60 --duration 30` (~5 minutes).

Each phase gets a fresh database on the PostgreSQL at `--postgres-url` (default
$VIGIA_TEST_POSTGRES_URL), dropped afterwards. Phase `single`: one `vigia run` (no `cluster:`
section; `--single-cluster` gives it one, as a cluster of one). Phase `cluster`: three nodes
n1-n3 with `cluster: {node, partitions, lease_seconds}` (tests/cluster/run_cluster.py), started
together and measured once the partitions are spread evenly. Every node as bench/ingest.py's
core: its own process, HTTPS with a private CA, the two locations' probe tokens. The catalogue:
`--checks` services of one HTTP check each at `--interval`, run at `local` (the nodes probe
bench/estate_server.py's loopback origins, as bench/scale.py; in a cluster each node probes the
services of the partitions it holds) and at lisboa and porto, whose results come from one
sender process each (bench/ingest.py's: simulated results due at each check's tick, pushed over
the real ingest API), sending its batches to the nodes in turn: a worker may talk to any node,
and a node that does not own a result's partition leaves it in `pending_results` for the owner.

Measured over `--duration` seconds after `--warmup` (bench/ingest.py: until the flap histories
of a fresh catalogue hold one state, alert rules are evaluated at every result; the senders push
on for 10 s after the window so results due near its end are stored):
- per node: CPU (user+system of the process, /proc via psutil), RSS at the end of the window
  and its peak (VmHWM), results judged (stored results started in the window of the services
  of the partitions it held), CPU per judged result, remote results it acknowledged;
- overall: results stored per second (local + remote, by `started_at` in the window, against
  those due), the nodes' CPU per result, and the CPU of this database's PostgreSQL backends
  (the server's shared processes excluded);
- lateness: the local probes' start lateness (started_at minus the due tick, from the rows),
  `pending_results` sampled every 2 s (depth, oldest age), at the window's end and after the
  senders stopped; start to acknowledgement of remote results (bench/ingest.py: the ack comes
  after the commit of the verdict, or in a cluster of the pending row when another node owns
  the partition, whose verdict then waits for the owner's drain: the pending age above);
- the ratio cluster / single node of CPU per result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from agent.cluster.partitions import partition_of  # noqa: E402
from bench import estate_server, ingest, scale  # noqa: E402
from tests.cluster.run_cluster import (  # noqa: E402
    drop_database,
    is_balanced,
    lease_holders,
    new_database,
    wait_for,
)

NODES = ("n1", "n2", "n3")
REMOTE = ingest.LOCATION_NAMES[:2]  # lisboa, porto
LINGER = 10.0  # the senders push on after the window
SAMPLE_EVERY = 2.0  # pending_results and RSS during the window
SINGLE = "single"


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)


# --- a phase: nodes on a fresh database, the senders, the window ------------------------------


def run_phase(
    label: str, names: list[str], clustered: bool, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from agent.api.auth import new_token
    from agent.catalog.model import LOCAL

    work.mkdir(parents=True)
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    database, url = new_database(admin)
    db = create_engine(url, poolclass=NullPool)
    try:
        tokens = {name: new_token() for name in (*REMOTE, "admin")}
        tls = ingest.make_tls(work)
        catalogue = ingest.located_catalogue(
            args.checks, args.interval, [LOCAL, *REMOTE], args.urls
        )
        (work / "services.yaml").write_text(catalogue)
        nodes = start_nodes(work, names, url, tokens, tls, args if clustered else None)
        try:
            if clustered:
                wait_for(lambda: is_balanced(lease_holders(db), args.partitions, names),
                         20 * args.lease, "the partitions to spread", step=0.5)  # fmt: skip
            print(f"{label}: {len(nodes)} node(s) up, measuring", flush=True)
            figures = measure(work, nodes, tokens, db, database, clustered, args)
        finally:
            for node in nodes:
                ingest.stop_core(node.process)
        figures.update(phase=label, nodes_count=len(nodes), clustered=clustered)
        figures.update(analyse(db, figures, args))
        return figures
    finally:
        db.dispose()
        drop_database(admin, database)
        admin.dispose()


def start_nodes(
    work: Path,
    names: list[str],
    url: str,
    tokens: dict[str, str],
    tls: Any,
    cluster: argparse.Namespace | None,
) -> list[Node]:
    """Every node launched first, then waited for: they load the catalogue side by side."""
    nodes = []
    for name in names:
        port = scale.free_port()
        extra: tuple[str, ...] = ()
        if cluster is not None:
            extra = (
                f"cluster: {{node: {name}, partitions: {cluster.partitions},"
                f" lease_seconds: {cluster.lease}}}",
            )
        settings = ingest.write_settings(work, port, url, tokens, tls, extra, f"{name}.yaml")
        nodes.append(Node(name, port, ingest.start_core(work, settings, name)))
    for node in nodes:
        ingest.wait_answering(node.process, node.port, tls[2], work / f"{node.name}.log")
    return nodes


def measure(
    work: Path,
    nodes: list[Node],
    tokens: dict[str, str],
    db: Engine,
    database: str,
    clustered: bool,
    args: argparse.Namespace,
) -> dict[str, Any]:
    checks = [f"s{i:05d}/web" for i in range(args.checks)]
    start = time.time() + 3.0  # the senders' imports
    timing = argparse.Namespace(
        interval=args.interval, warmup=args.warmup, duration=args.duration, linger=LINGER
    )
    senders = ingest.run_senders(work, [n.url for n in nodes], tokens, checks, timing, start)
    try:
        time.sleep(max(0.0, start + args.warmup - time.time()))
        held = lease_holders(db) if clustered else {}
        cpu0 = [ingest.cpu_seconds(n.ps) for n in nodes]
        pg0, t0, load0 = backend_cpu(database), time.time(), os.getloadavg()
        sys0 = psutil.cpu_times()
        samples = sample_pending(db, nodes, start + args.warmup + args.duration)
        cpu1 = [ingest.cpu_seconds(n.ps) for n in nodes]
        pg1, t1, load1 = backend_cpu(database), time.time(), os.getloadavg()
        busy = scale.system_busy(sys0, psutil.cpu_times())
        rss = [n.ps.memory_info().rss / 2**20 for n in nodes]
        peak = [scale.peak_rss_mb(n.process.pid) for n in nodes]
        pending_end = pending(db)[0]
        moved = sum(1 for p, h in lease_holders(db).items() if held.get(p, h) != h) if held else 0
        for child in senders:
            child.wait(LINGER + 120)
    finally:
        for child in senders:
            if child.poll() is None:
                child.kill()
    time.sleep(3 * ingest.PUSH_EVERY)  # the owners drain the last pending rows (every 1 s)
    sent = [json.loads((work / f"sender-{n}.json").read_text()) for n in REMOTE]
    return {
        "t0": t0, "t1": t1, "window_s": t1 - t0, "load_before": load0, "load_after": load1,
        "machine_busy_cores": busy, "holders": held, "partitions_moved_in_window": moved,
        "postgres_backends_cpu_s": sum(c - pg0.get(pid, 0.0) for pid, c in pg1.items()),
        "nodes": [
            {"name": n.name, "cpu_s": c1 - c0, "rss_mb": r, "peak_rss_mb": p,
             "max_sampled_rss_mb": max((s["rss"][i] for s in samples), default=r),
             "remote_acked": sum(s["acked_by_core"].get(n.url, 0) for s in sent)}
            for i, (n, c0, c1, r, p) in enumerate(zip(nodes, cpu0, cpu1, rss, peak, strict=True))
        ],
        "pending_samples": [(s["count"], s["oldest_s"]) for s in samples],
        "pending_at_window_end": pending_end,
        "pending_after_senders": pending(db)[0],
        "ack_latencies": sorted(x for s in sent for x in s["latencies"]),
        "round_trips": sorted(x for s in sent for x in s["round_trips"]),
        "refused_batches": sum(s["refused_batches"] for s in sent),
        "sender_backlog_at_end": sum(s["backlog"] for s in sent),
    }  # fmt: skip


def sample_pending(db: Engine, nodes: list[Node], until: float) -> list[dict[str, Any]]:
    samples = []
    while (left := until - time.time()) > 0:
        time.sleep(min(SAMPLE_EVERY, left))
        count, oldest = pending(db)
        rss = [n.ps.memory_info().rss / 2**20 for n in nodes]
        samples.append({"count": count, "oldest_s": oldest, "rss": rss})
    return samples


def pending(db: Engine) -> tuple[int, float]:
    """Results waiting for their partition's owner, and the oldest one's wait in seconds."""
    with db.begin() as conn:
        count, first = conn.execute(
            text("SELECT count(*), min(received_at) FROM pending_results")
        ).one()
    return int(count), (time.time() - first / 1e6) if first is not None else 0.0


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL backends serving `database` (their process title
    names it), by pid: a backend started in the window counts from zero."""
    found = {}
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if title.startswith("postgres:") and f" {database} " in title:
            try:
                found[process.pid] = ingest.cpu_seconds(process)
            except psutil.Error:
                continue
    return found


# --- the rows: results stored in the window, lateness, who judged them -------------------------


def analyse(db: Engine, figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from agent.catalog.model import LOCAL
    from agent.scheduler import ANCHOR

    window = (round(figures["t0"] * 1e6), round(figures["t1"] * 1e6))
    with db.begin() as conn:
        rows = conn.execute(
            text('SELECT "check", service, location, started_at FROM probe_results'
                 " WHERE started_at >= :a AND started_at < :b"),
            {"a": window[0], "b": window[1]},
        ).all()  # fmt: skip
    step, anchor = round(args.interval * 1e6), round(ANCHOR.timestamp() * 1e6)
    held: dict[int, str] = figures["holders"]
    nodes = [n["name"] for n in figures["nodes"]]
    judged = dict.fromkeys(nodes, 0)
    local = dict.fromkeys(nodes, 0)
    lateness = []
    for check, service, location, started in rows:
        owner = held.get(partition_of(service, args.partitions), nodes[0]) if held else nodes[0]
        judged[owner] += 1
        if location == LOCAL:
            local[owner] += 1
            first = anchor + scale.phase_us(check, args.interval)
            lateness.append((started - (first + (started - first) // step * step)) / 1e6)
    for node in figures["nodes"]:
        node.update(judged=judged[node["name"]], local_probes=local[node["name"]])
        node["cpu_ms_per_result"] = _per(node["cpu_s"], node["judged"])
    lateness.sort()
    cpu = sum(n["cpu_s"] for n in figures["nodes"])
    due = args.checks * (1 + len(REMOTE)) * figures["window_s"] / args.interval
    return {
        "results_stored": len(rows),
        "local_stored": sum(local.values()),
        "results_due": due,
        "results_per_s": len(rows) / figures["window_s"],
        "nodes_cpu_s": cpu,
        "cpu_ms_per_result": _per(cpu, len(rows)),
        "postgres_ms_per_result": _per(figures["postgres_backends_cpu_s"], len(rows)),
        "lateness_p50": scale._quantile(lateness, 0.50),
        "lateness_p99": scale._quantile(lateness, 0.99),
        "lateness_max": lateness[-1] if lateness else None,
    }


def _per(cpu_s: float, results: int) -> float | None:
    return cpu_s / results * 1000 if results else None


# --- report ------------------------------------------------------------------------------------


def report(phase: dict[str, Any]) -> str:
    def q(values: list[float], at: float) -> float:
        return scale._quantile(values, at) or 0.0

    acks, trips, samples = phase["ack_latencies"], phase["round_trips"], phase["pending_samples"]
    lines = [
        f"{phase['phase']} ({phase['nodes_count']} node(s)): {phase['results_stored']} results"
        f" stored in {phase['window_s']:.1f} s ({phase['results_per_s']:.0f}/s; due"
        f" {phase['results_due']:.0f}, local {phase['local_stored']}); nodes' CPU"
        f" {phase['nodes_cpu_s']:.1f} s = {_ms(phase['cpu_ms_per_result'])} per result;"
        f" PostgreSQL backends {phase['postgres_backends_cpu_s']:.1f} s ="
        f" {_ms(phase['postgres_ms_per_result'])} per result",
        f"  local start lateness p50 {_s(phase['lateness_p50'])}, p99 {_s(phase['lateness_p99'])},"
        f" max {_s(phase['lateness_max'])}; start to ack p50 {q(acks, 0.5):.3f} s, p99"
        f" {q(acks, 0.99):.3f} s, max {acks[-1] if acks else 0:.3f} s; round trip p99"
        f" {q(trips, 0.99) * 1000:.0f} ms ({len(trips)} batches, {phase['refused_batches']}"
        f" refused, backlog at the end {phase['sender_backlog_at_end']})",
        f"  pending_results: max {max((c for c, _ in samples), default=0)}, oldest max"
        f" {max((a for _, a in samples), default=0.0):.1f} s, at the window's end"
        f" {phase['pending_at_window_end']}, after the senders {phase['pending_after_senders']};"
        f" partitions moved in the window {phase['partitions_moved_in_window']}",
        f"  load {phase['load_before'][0]:.2f} -> {phase['load_after'][0]:.2f}, machine busy"
        f" {phase['machine_busy_cores']:.2f} cores",
    ]
    for n in phase["nodes"]:
        lines.append(
            f"  {n['name']}: CPU {n['cpu_s']:.1f} s ({n['cpu_s'] / phase['window_s'] * 100:.0f} %"
            f" of a core), judged {n['judged']} ({n['local_probes']} local) ="
            f" {_ms(n['cpu_ms_per_result'])} per result; remote acked {n['remote_acked']};"
            f" RSS {n['rss_mb']:.0f} MB (sampled max {n['max_sampled_rss_mb']:.0f}, peak"
            f" {n['peak_rss_mb']:.0f})"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return f"{value:.3f} ms" if value is not None else "-"


def _s(value: float | None) -> str:
    return f"{value * 1000:.0f} ms" if value is not None else "-"


def ratio(phases: dict[str, dict[str, Any]]) -> str:
    single, cluster = phases.get(SINGLE), phases.get("cluster")
    if not (single and cluster and single["cpu_ms_per_result"] and cluster["cpu_ms_per_result"]):
        return ""
    nodes = cluster["cpu_ms_per_result"] / single["cpu_ms_per_result"]
    both = [(p["nodes_cpu_s"] + p["postgres_backends_cpu_s"]) / p["results_stored"]
            for p in (single, cluster)]  # fmt: skip
    return (
        f"CPU per result, cluster / single node: nodes {nodes:.2f}; nodes + PostgreSQL backends"
        f" {both[1] / both[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:4]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=210.0, help="before the window, s")
    parser.add_argument("--duration", type=float, default=120.0, help="measured window, s")
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--lease", type=float, default=15.0, help="lease_seconds")
    parser.add_argument("--servers", type=int, default=20, help="loopback origins")
    parser.add_argument("--phases", default="single,cluster")
    parser.add_argument(
        "--single-cluster", action="store_true", help="the single node as a cluster of one"
    )
    parser.add_argument("--postgres-url", default=os.environ.get("VIGIA_TEST_POSTGRES_URL",
                                                                 ingest.POSTGRES_URL))  # fmt: skip
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--keep", help="work in this directory and keep it (logs, settings)")
    args = parser.parse_args()
    # the nodes and senders run this checkout's code, not the one the venv has installed
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    print(json.dumps({**scale.machine(), "loadavg": os.getloadavg()}), flush=True)
    phases: dict[str, dict[str, Any]] = {}
    socks = estate_server.origins(args.servers)
    estate = estate_server.start(socks)
    try:
        args.urls = scale.service_urls(estate_server.base_urls(socks), args.checks)
        with tempfile.TemporaryDirectory(prefix="vigia-cluster-throughput-") as tmp:
            base = Path(args.keep or tmp)
            for label in args.phases.split(","):
                names = list(NODES) if label == "cluster" else ["n1"]
                clustered = label == "cluster" or args.single_cluster
                phases[label] = run_phase(label, names, clustered, base / label, args)
                print(report(phases[label]), flush=True)
    finally:
        estate.terminate()
        estate.join()
    print("\n".join([*(report(p) for p in phases.values()), ratio(phases)]))
    if args.json:
        args.urls = len(args.urls)
        out = {"machine": scale.machine(), "args": vars(args), "phases": phases}
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
