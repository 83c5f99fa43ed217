"""Run the scheduler for a few seconds while libfaketime steps the wall clock (-10, +10, +10 min).

Started by test_clock_steps.py under LD_PRELOAD=libfaketime with the faked offset read from
the file named in argv[1] (FAKETIME_TIMESTAMP_FILE); records each step in the SQLite store at
argv[2]; prints one JSON line: the monotonic start times of each check's probes and the clock
steps the scheduler saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from agent.catalog.model import Check
from agent.clock_watch import ClockStep
from agent.scheduler import ProbeScheduler
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from tests.agent.test_scheduler import _catalog

STEPS = ((2.5, "-10m"), (5.0, "+0"), (7.5, "+10m"))  # (seconds into the run, faked offset)
RUN_SECONDS = 10.0


async def main(offset_file: Path, db: Path) -> None:
    starts: dict[str, list[float]] = {}
    store = SqlStore.open(f"sqlite:///{db}")

    def record(step: ClockStep) -> None:
        store.record_clock_step(step.at, step.seconds)

    async def job(check: Check, due: datetime) -> None:
        starts.setdefault(check.id, []).append(time.monotonic())

    clock = SystemClock()
    scheduler = ProbeScheduler(job, clock, max_in_flight=10, max_per_host=10, on_clock_step=record)
    scheduler.start(_catalog(3))
    began = time.monotonic()
    for at, offset in STEPS:
        await asyncio.sleep(began + at - time.monotonic())
        offset_file.write_text(offset + "\n")
    await asyncio.sleep(began + RUN_SECONDS - time.monotonic())
    await scheduler.shutdown(grace=1)
    stats = scheduler.stats
    step = getattr(stats, "last_clock_step", None)
    out = {
        "began": began,
        "starts": starts,
        "steps": getattr(stats, "clock_steps_total", 0),
        "last_step": step.seconds if step is not None else None,
    }
    print(json.dumps(out))
    store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
