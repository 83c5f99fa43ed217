"""Time to build the monthly report for 10,000 services with a month of history.

    python bench/report.py [--services 10000] [--out /tmp/vigia-bench-report] [--append]

The database is filled once per run through `SqlStore.apply` with what a month leaves behind:
every service's transitions (1-3 outages for one service in three), its incidents, a probe
result per day, its status; one service in ten has a weekly recurring maintenance window. The
timed part is what `vigia report monthly` does after opening the store: build the figures
(indicators, daily series per tier, groups, windows) and write HTML (with its three SVG
charts), CSV and JSON. Target: under 10 s wall. CPU time (`time.process_time`) is printed
beside wall time, since the machine is shared and wall time depends on its load. `--append`
adds the result to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.catalog.model import MACRO_SERVICES, Catalog, MaintenanceRule, Service, Timing
from agent.indicators.periods import parse_period
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    Effect,
    Incident,
    IncidentSaved,
    ResultRecorded,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
)
from agent.reports.monthly import build_monthly, write_monthly
from agent.store.sql import SqlStore
from checks.result import Outcome, ProbeResult

MONTH = parse_period("2026-10")
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
TIMING = Timing(interval=60, timeout=10, confirm_down=3, confirm_up=2)
TIERS = ("platina", "ouro", "prata", "bronze")
HEADER = (
    "| services | fill s | build s (wall / CPU) | write s (wall / CPU) | total s (wall / CPU) "
    "| output |"
)
WEEKLY = MaintenanceRule("0 2 * * 0", 7200, "Europe/Lisbon", "janela semanal")


def service(index: int) -> Service:
    tier = TIERS[index % 4]
    return Service(
        id=f"svc-{index:05d}", name=f"Serviço {index}", macro_service=MACRO_SERVICES[index % 6],
        tier=tier, pcn=tier == "platina" and index % 8 == 0, owner="noc", monitored=True,
        depends_on=(), maintenance=(WEEKLY,) if index % 10 == 0 else (), timing=TIMING,
        merge_within=0, flap_start=20, flap_stop=5, checks=(),
    )  # fmt: skip


def history(svc: Service, rng: random.Random, next_id: list[int]) -> list[Effect]:
    start = MONTH.start - timedelta(days=1)
    steps = [Transition(svc.id, start, State.UP)]
    effects: list[Effect] = []
    outages = rng.choice((1, 2, 3)) if rng.random() < 1 / 3 else 0
    for _ in range(outages):
        down = MONTH.start + timedelta(seconds=rng.randrange(int(MONTH.seconds) - 7200))
        up = down + timedelta(seconds=rng.randrange(120, 7200))
        if down <= steps[-1].at:
            continue
        steps += [Transition(svc.id, down, State.DOWN), Transition(svc.id, up, State.UP)]
        restore = (up - down).total_seconds()
        incident = Incident(next_id[0], svc.id, svc.tier, svc.pcn, down, down, up, restore)
        effects.append(IncidentSaved(incident))
        next_id[0] += 1
    effects.append(TimelineRewritten(svc.id, start, tuple(steps)))
    for day in range(31):
        at = MONTH.start + timedelta(days=day, seconds=rng.randrange(86_000))
        effects.append(ResultRecorded(ProbeResult(f"{svc.id}/http", at, 0.1, Outcome.OK)))
    last = MONTH.end + timedelta(days=1, hours=9)
    effects.append(ServiceStatusSaved(ServiceStatus(svc.id, State.UP, steps[-1].at, last)))
    return effects


def fill(store: SqlStore, count: int) -> Catalog:
    rng = random.Random(2026)
    services = tuple(service(i) for i in range(count))
    next_id = [1]
    batch: list[Effect] = []
    for svc in services:
        batch += history(svc, rng, next_id)
        if len(batch) > 50_000:
            store.apply(batch)
            batch = []
    store.apply(batch)
    return Catalog(1, {}, services)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "vigia-bench")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore.open(f"sqlite:///{folder}/bench.db")
        started = time.perf_counter()
        catalog = fill(store, args.services)
        fill_s = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        calendar = MaintenanceCalendar(catalog, tuple(store.windows()))
        report = build_monthly(store, catalog, calendar, DEFAULT_QUAR, MONTH, NOW, "Europe/Lisbon")
        built_s, built_cpu = time.perf_counter() - started, time.process_time() - cpu
        files = write_monthly(report, args.out, ["html", "csv", "json"], "pt")
        total_s, total_cpu = time.perf_counter() - started, time.process_time() - cpu
        store.close()
    size = sum(f.stat().st_size for f in files)
    line = (
        f"| {args.services:,} | {fill_s:.1f} | {built_s:.2f} / {built_cpu:.2f} | "
        f"{total_s - built_s:.2f} / {total_cpu - built_cpu:.2f} | "
        f"**{total_s:.2f}** / {total_cpu:.2f} | {size / 1e6:.1f} MB |"
    )
    print(HEADER)
    print(line)
    if args.append:
        _append(line, args.services, total_s)
    return 0 if total_s < 10 else 1


def _append(line: str, services: int, total: float) -> None:
    results = Path(__file__).with_name("RESULTS.md")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    text = (
        f"\n## Monthly report build time (bench/report.py), {stamp}\n\n"
        f"Python {platform.python_version()}, SQLite, 2 shared cores. {services:,} services, "
        "a month of history (one in three with 1-3 outages, a result a day, one in ten with a "
        "weekly window). Timed: figures (indicators, daily series per tier, groups, windows) "
        "and writing HTML with 3 SVG charts, CSV and JSON. Target: under 10 s "
        f"({'met' if total < 10 else 'NOT met'}).\n\n"
        "    python bench/report.py --append\n\n"
        f"{HEADER}\n"
        "|---|---|---|---|---|---|\n"
        f"{line}\n"
    )
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    sys.exit(main())
