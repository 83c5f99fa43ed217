"""Wall-clock steps (NTP, `date -s`) under the real libfaketime: probing keeps its cadence."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.clock_watch import ClockStep, ClockWatch
from agent.store.sql import SqlStore
from checks.clock import SystemClock

ROOT = Path(__file__).resolve().parents[2]
LIBS = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))

needs_faketime = pytest.mark.skipif(
    shutil.which("faketime") is None or not LIBS,
    reason="libfaketime is not installed (apt install faketime; CI installs it)",
)


@needs_faketime
def test_probes_keep_starting_every_second_across_wall_clock_steps_both_ways(
    tmp_path: Path,
) -> None:
    offset_file, db = tmp_path / "faketime", tmp_path / "vigia.db"
    offset_file.write_text("+0\n")
    env = dict(
        os.environ,
        LD_PRELOAD=LIBS[0],
        FAKETIME_TIMESTAMP_FILE=str(offset_file),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",  # the monotonic clock is what an NTP step leaves alone
        PYTHONPATH=str(ROOT),
    )
    env.pop("FAKETIME", None)  # it would take priority over the file
    done = subprocess.run(
        [sys.executable, "-m", "tests.agent.clock_step_run", str(offset_file), str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["starts"]) == 3
    for check_id, starts in out["starts"].items():
        gaps = [b - a for a, b in zip([out["began"], *starts], starts, strict=False)]
        assert len(starts) >= 9, (check_id, len(starts))  # 10 s at 1 s, none lost to a step
        assert max(gaps) < 1.5, (check_id, gaps)  # no wait-out of the -10 min step
        assert min(gaps[1:]) > 0.5, (check_id, gaps)  # no burst after the +10 min steps
    store = SqlStore.open(f"sqlite:///{db}")  # each step recorded, with its size
    ever = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC))
    everything = store.clock_steps(*ever)
    store.close()
    assert [round(seconds / 60) for _, seconds in everything] == [-10, 10, 10]
    assert out["steps"] == 3
    assert out["last_step"] == pytest.approx(600, abs=2)
    assert "wall clock stepped by -600" in done.stderr


class SteppedClock(SystemClock):
    def __init__(self) -> None:
        self.shift = 0.0

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.shift)


async def test_a_clock_step_is_reported_once_with_its_size_and_small_drift_is_not() -> None:
    clock = SteppedClock()
    seen: list[ClockStep] = []
    watch = ClockWatch(clock, seen.append)
    clock.shift = 0.5
    assert watch.check() is None
    clock.shift = -599.5
    step = watch.check()
    assert step is not None and step.seconds == pytest.approx(-600, abs=0.1)
    assert watch.check() is None  # absorbed: the next comparison is on the new base
    assert seen == [step]
