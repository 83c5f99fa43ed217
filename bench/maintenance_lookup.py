"""Cost of the engine's question for every result: "was this service in planned maintenance
then?" (`MaintenanceCalendar.in_planned`) for a service with one cron rule.

    python bench/maintenance_lookup.py

Instants 30 s apart over 1,000 minutes, asked in time order as results arrive.
"""

from __future__ import annotations

import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.catalog.loader import load_text
from agent.maintenance import MaintenanceCalendar

CATALOG = """\
version: 1
services:
  - id: s
    name: S
    macro_service: formacao
    tier: bronze
    maintenance: [{cron: "0 2 * * 0", duration: 2h, timezone: Europe/Lisbon}]
    checks: [{tcp: {host: 127.0.0.1, port: 1}}]
"""
CALLS = 20_000


def main() -> None:
    calendar = MaintenanceCalendar(load_text(CATALOG))
    start = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    instants = [start + timedelta(seconds=30 * i) for i in range(2000)]
    stream = iter(instants * (3 * CALLS // len(instants) + 3))
    best = min(
        timeit.repeat(lambda: calendar.in_planned("s", next(stream)), number=CALLS, repeat=3)
    )
    inside = sum(MaintenanceCalendar(calendar.catalog).in_planned("s", at) for at in instants)
    print(f"in_planned: {best / CALLS * 1e6:.1f} us per call; {inside} of {len(instants)} inside")


if __name__ == "__main__":
    main()
