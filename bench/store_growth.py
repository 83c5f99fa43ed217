"""Store growth per service-month, with and without compaction, on SQLite and PostgreSQL.

    python bench/store_growth.py [--services 20] [--days 30] [--interval 30]
                                 [--postgres URL] [--json FILE]

A month of probe results is written through `SqlStore.apply` (the writer's path), day by day,
for `--services` services with one HTTP check each at `--interval` seconds, with the
measurements an HTTP probe records (status, body size, latency, four phases). Each service has
one 5-minute outage a month (transitions down and up, an incident) and one isolated failure a
day; everything else is ok. After each simulated day the agent's upkeep runs as it would
(`SqlStore.compact` with `retention.raw_ok` = 2 days, in 5,000-row turns).

Reported, from the live bytes of every table (SQLite: dbstat after VACUUM; PostgreSQL:
pg_total_relation_size after VACUUM FULL), less an empty database's:

- before: what the store grew without compaction, from the database after the first two days
  (nothing is old enough to compact yet), per service-day and per service-month (x 30);
- after: what stays for ever once the month is compacted (the rollups, transitions, incidents,
  the raw results kept: non-ok and around changes), per service-month;
- the raw window: the ok results of the last `raw_ok` days, a plateau that does not grow.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from agent.records import (  # noqa: E402
    Effect,
    Incident,
    IncidentSaved,
    ResultRecorded,
    State,
    TimelineRewritten,
    Transition,
)
from agent.store import schema  # noqa: E402
from agent.store.sql import SqlStore  # noqa: E402
from alerting import tables as alerting_tables  # noqa: E402
from checks.result import Measurement, Outcome, ProbeResult  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
RAW_OK = timedelta(days=2)
DAY = timedelta(days=1)


def day_effects(services: int, interval: float, day: int) -> Iterator[Effect]:
    """Day `day`'s results of every service, in time order, with the outage's records."""
    lo = START + day * DAY
    step = timedelta(seconds=interval)
    ticks = int(DAY / step)
    for i in range(services):
        service = f"svc-{i:05d}"
        check = f"{service}/http"
        phase = timedelta(seconds=(i * 7.3) % interval)
        outage_day, outage_at = i % 30, timedelta(hours=(i * 5) % 24, minutes=17)
        down = START + outage_day * DAY + outage_at
        up = down + timedelta(minutes=5)
        blip = lo + timedelta(hours=(i + day) % 24, minutes=41)
        for n in range(ticks):
            at = lo + phase + n * step
            failing = down <= at < up or blip <= at < blip + step
            yield ResultRecorded(_result(check, at, n, failing), in_maintenance=False)
        if outage_day == day:
            steps = (Transition(service, down, State.DOWN), Transition(service, up, State.UP))
            yield TimelineRewritten(service, down, steps)
            incident = Incident(
                i + 1, service, "bronze", False, down, down + 3 * step, up, (up - down).seconds
            )
            yield IncidentSaved(incident)


def _result(check: str, at: datetime, n: int, failing: bool) -> ProbeResult:
    latency = 0.004 + (n % 17) * 0.0003
    measurements: dict[str, Measurement] = {
        "status_code": 503 if failing else 200,
        "body_bytes": 1832,
        "latency": round(latency, 6),
        "phase_dns": 0.0001,
        "phase_connect": round(latency * 0.2, 6),
        "phase_tls": round(latency * 0.4, 6),
        "phase_ttfb": round(latency * 0.3, 6),
    }
    outcome, reason = (Outcome.FAIL, "HTTP 503") if failing else (Outcome.OK, "")
    return ProbeResult(check, at, latency, outcome, reason, measurements)


def write_day(store: SqlStore, services: int, interval: float, day: int) -> int:
    batch: list[Effect] = []
    written = 0
    for effect in day_effects(services, interval, day):
        batch.append(effect)
        written += isinstance(effect, ResultRecorded)
        if len(batch) >= 2000:
            store.apply(batch)
            batch = []
    store.apply(batch)
    return written


def compact(store: SqlStore, now: datetime) -> tuple[int, int]:
    rolled = turns = 0
    while not (step := store.compact(now, RAW_OK, 5000)).done:
        rolled, turns = rolled + step.rolled_up, turns + 1
    return rolled, turns


def table_bytes(url: str) -> dict[str, int]:
    """Live bytes of each vigia table (indexes included), after reclaiming dead space."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                rows = conn.exec_driver_sql(
                    "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s "
                    "JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name"
                ).all()
                return {name: int(size) for name, size in rows}
            out = {}
            for table in [*schema.metadata.sorted_tables, *alerting_tables.metadata.sorted_tables]:
                conn.exec_driver_sql(f'VACUUM FULL "{table.name}"')
                size = conn.execute(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table.name}
                ).scalar_one()
                out[table.name] = int(size)
            return out
    finally:
        engine.dispose()


def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {
        k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)
    }


def run(url: str, services: int, days: int, interval: float) -> dict[str, Any]:
    store = SqlStore.open(url)
    empty = table_bytes(url)
    started = time.perf_counter()
    rows = rolled = turns = 0
    before: dict[str, int] = {}
    for day in range(days):
        rows += write_day(store, services, interval, day)
        if day == 1:
            before = minus(table_bytes(url), empty)
        r, n = compact(store, START + (day + 1) * DAY)
        rolled, turns = rolled + r, turns + n
    windowed = minus(table_bytes(url), empty)
    r, n = compact(store, START + days * DAY + RAW_OK)  # the month's last days too
    rolled, turns = rolled + r, turns + n
    after = minus(table_bytes(url), empty)
    store.close()
    months = days / 30
    per_day_before = sum(before.values()) / (services * 2)
    return {
        "backend": url.split(":")[0],
        "services": services,
        "days": days,
        "interval": interval,
        "results": rows,
        "rolled_up": rolled,
        "compaction_turns": turns,
        "seconds": round(time.perf_counter() - started, 1),
        "before_bytes_per_service_day": round(per_day_before),
        "before_bytes_per_service_month": round(per_day_before * 30),
        "after_bytes_per_service_month": round(sum(after.values()) / (services * months)),
        "raw_window_bytes_per_service": round(
            (sum(windowed.values()) - sum(after.values())) / services
        ),
        "tables_before_2_days": before,
        "tables_after": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--postgres", help="also on this (empty) PostgreSQL database URL")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{tmp}/growth.db", *([args.postgres] if args.postgres else [])]
        for url in urls:
            figures = run(url, args.services, args.days, args.interval)
            figures["machine"] = (
                f"{platform.node()} {platform.machine()} {platform.python_version()}"
            )
            print(json.dumps(figures, indent=2), flush=True)
            out.append(figures)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
