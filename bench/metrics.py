"""Scrape cost of /metrics at 10,000 services (target: under 200 ms of agent CPU).

Builds the agent's metrics as `vigia run` does: AgentMetrics on a fresh registry, every service
given a state, every check a few results (HTTP phases; a TLS check on every tenth service), and
the store-derived collector refreshed from a real SQLite store holding a month of timeline for
every service. Then measures, in CPU time of this process:

- `render()`: the /metrics body (what a scrape costs the agent),
- `generate_latest(registry)`: the stock prometheus_client exposition of the same samples,
- `observe()`: the per-result metric work on the probe path,
- `StoreMetrics.refresh()`: the background computation (light part, then with availability).

    python bench/metrics.py [--services 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, generate_latest

from agent.catalog.loader import load_text
from agent.catalog.model import Catalog
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.metrics.store_derived import StoreMetrics
from agent.records import (
    Effect,
    Incident,
    IncidentSaved,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
)
from agent.store.sql import SqlStore
from checks.clock import ManualClock
from checks.result import Outcome, ProbeResult

MACROS = ("comunicacoes", "desenvolvimento-aplicacoes", "formacao", "gestao-informacao")
TIERS = ("platina", "ouro", "prata", "bronze")


def build_catalog(services: int) -> Catalog:
    """In chunks: the loader caps one YAML document at 100,000 values."""
    parts = [
        load_text(catalog_text(range(a, min(a + 500, services)))) for a in range(0, services, 500)
    ]
    return Catalog(parts[0].version, parts[0].tiers, tuple(s for p in parts for s in p.services))


def catalog_text(ids: range) -> str:
    lines = ["version: 1", "defaults: {interval: 30s, timeout: 10s}", "services:"]
    for i in ids:
        checks = [f"{{http: {{url: 'http://10.{i // 250 % 250}.{i % 250}.1/'}}}}"]
        if i % 10 == 0:
            checks.append(f"{{tls: {{host: svc{i}.example, port: 443}}}}")
        lines += [
            f"  - id: svc{i:05d}",
            f"    name: Service {i}",
            f"    macro_service: {MACROS[i % len(MACROS)]}",
            f"    tier: {TIERS[i % len(TIERS)]}",
            f"    pcn: {'true' if i % 8 == 0 else 'false'}",
            f"    checks: [{', '.join(checks)}]",
        ]
    return "\n".join(lines) + "\n"


def results(catalog: Catalog, now: datetime) -> list[tuple[ProbeResult, str]]:
    made: list[tuple[ProbeResult, str]] = []
    for n, check in enumerate(catalog.checks.values()):
        outcome = Outcome.FAIL if n % 97 == 0 else Outcome.OK
        if check.kind == "tls":
            measured = {"connect_time": 0.002, "handshake_time": 0.01}
            measured_tls: dict[str, object] = {**measured, "not_after": "2027-03-01T00:00:00Z"}
            made.append((ProbeResult(check.id, now, 0.02, outcome, "", measured_tls), "tls"))  # type: ignore[arg-type]
        else:
            phases = {"phase_connect": 0.003, "phase_processing": 0.05, "phase_transfer": 0.001}
            made.append((ProbeResult(check.id, now, 0.06, outcome, "", phases), "http"))  # type: ignore[arg-type]
    return made


def fill_store(store: SqlStore, catalog: Catalog, now: datetime) -> None:
    """A month of timeline per service: up since the 1st, a one-hour outage for 1 in 50."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    effects: list[Effect] = []
    for i, svc in enumerate(catalog.services):
        steps = [Transition(svc.id, start, State.UP)]
        if i % 50 == 0:
            down = start + timedelta(days=3)
            steps += [
                Transition(svc.id, down, State.DOWN),
                Transition(svc.id, down + timedelta(hours=1), State.UP),
            ]
            effects.append(
                IncidentSaved(
                    Incident(
                        i + 1, svc.id, svc.tier, svc.pcn, down, down, down + timedelta(hours=1)
                    )
                )
            )
        effects.append(TimelineRewritten(svc.id, start, tuple(steps)))
        effects.append(ServiceStatusSaved(ServiceStatus(svc.id, State.UP, start, now)))
    store.apply(effects)


def cpu(work: Callable[[], object], repeats: int) -> list[float]:
    taken = []
    for _ in range(repeats):
        began = time.process_time()
        work()
        taken.append((time.process_time() - began) * 1000)
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    began = time.perf_counter()
    catalog = build_catalog(args.services)
    print(f"catalogue: {len(catalog.services)} services, {len(catalog.checks)} checks "
          f"({time.perf_counter() - began:.1f} s)")  # fmt: skip
    metrics = AgentMetrics(CollectorRegistry())
    metrics.sync_catalog(catalog, lambda sid: ServiceStatus(sid, State.UNKNOWN, None, None))
    for n, svc in enumerate(catalog.monitored):
        state = State.DOWN if n % 97 == 0 else State.UP
        metrics.set_service(catalog, ServiceStatus(svc.id, state, now, now))
    batch = results(catalog, now)
    per_result = []
    for _ in range(3):
        began = time.process_time()
        for result, kind in batch:
            metrics.observe(result, kind)
        per_result.append((time.process_time() - began) / len(batch) * 1e6)

    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        fill_store(store, catalog, now)
        collector = StoreMetrics(
            store,
            lambda: catalog,
            lambda: MaintenanceCalendar(catalog),
            ManualClock(now),
            metrics.fast,
            timezone="Europe/Lisbon",
            quar=lambda: DEFAULT_QUAR,
        )
        metrics.add_fast(collector)
        light = cpu(lambda: collector.refresh(availability=False), 1)[0]
        heavy = cpu(lambda: collector.refresh(availability=True), 1)[0]
        store.close()

    body = metrics.render()
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    fast = cpu(metrics.render, args.repeats)
    slow = cpu(lambda: generate_latest(metrics.registry), max(1, args.repeats // 2))
    print(f"exposition: {samples} samples, {len(body) / 1e6:.1f} MB")
    print(f"render() CPU ms: median {statistics.median(fast):.1f}, max {max(fast):.1f}")
    print(f"generate_latest CPU ms: median {statistics.median(slow):.1f}")
    print(f"observe() CPU us/result: median {statistics.median(per_result):.1f}")
    print(f"StoreMetrics.refresh CPU ms: light {light:.0f}, with availability {heavy:.0f}")


if __name__ == "__main__":
    main()
