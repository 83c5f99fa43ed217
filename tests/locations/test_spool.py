"""The worker's spool on real SQLite: what is acknowledged leaves, what is not survives a
kill -9, and an overflow leaves a dropped interval instead of a silent gap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.locations.spool import Spool
from agent.locations.wire import WireResult
from checks.result import Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _result(check: str, second: float) -> WireResult:
    return WireResult(
        check=check,
        started_at=T0 + timedelta(seconds=second),
        duration=0.2,
        outcome=Outcome.FAIL,
        reason="connection refused",
        measurements={"status": 503},
    )


def test_a_result_stays_until_acknowledged_and_round_trips(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add(_result("svc/http", 0))
    spool.add(_result("svc/http", 30))
    first = spool.pending(1)
    assert first.results == [_result("svc/http", 0)]
    spool.acknowledge(first)
    spool.close()
    reopened = Spool(tmp_path / "spool.db")
    assert reopened.pending(10).results == [_result("svc/http", 30)]
    assert reopened.depth() == 1


def test_the_same_result_added_twice_is_kept_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.add(_result("svc/http", 0))
    spool.add(_result("svc/http", 0))
    assert spool.depth() == 1


def test_pending_is_oldest_first_across_checks(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for check, second in [("b/x", 5), ("a/y", 1), ("b/x", 3)]:
        spool.add(_result(check, second))
    assert [r.started_at for r in spool.pending(10).results] == [
        T0 + timedelta(seconds=s) for s in (1, 3, 5)
    ]


def test_overflow_drops_the_oldest_and_records_what_they_covered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", horizon=100)
    for second in range(0, 160, 10):  # the newest is 151: what started before 51 falls out
        spool.add(_result("svc/http", second))
        spool.add(_result("svc/tcp", second + 1))
    pending = spool.pending(100)
    assert min(r.started_at for r in pending.results) == T0 + timedelta(seconds=51)
    gaps = {d.check: d for d in pending.dropped}
    assert gaps["svc/http"].start == T0
    assert gaps["svc/http"].end == T0 + timedelta(seconds=50)
    assert gaps["svc/http"].count == 6
    assert gaps["svc/tcp"].count == 5  # 1..41; 51 is exactly at the horizon and stays
    assert gaps["svc/tcp"].end == T0 + timedelta(seconds=41)


def test_a_dropped_interval_is_sent_once_and_what_grew_meanwhile_stays(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", horizon=10)
    for second in range(0, 15):
        spool.add(_result("svc/http", second))
    sent = spool.pending(100)
    [gap] = sent.dropped
    assert gap.count == 4  # 0..3 older than 10 s before 14
    spool.add(_result("svc/http", 15))  # drops 4 as well, after the batch was read
    spool.acknowledge(sent)
    [rest] = spool.pending(100).dropped
    assert rest.count == 1
    assert rest.end == T0 + timedelta(seconds=4)
    spool.acknowledge(spool.pending(100))
    assert spool.pending(100).empty


def test_a_non_positive_horizon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        Spool(tmp_path / "spool.db", horizon=0)


def test_kill_9_while_writing_loses_nothing_unacknowledged(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.locations.spool_writer", str(path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    added: set[str] = set()
    acked: set[str] = set()
    in_flight: set[str] = set()  # an ack the child may or may not have committed
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while sum(1 for x in lines if x.startswith("added")) < 400 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    lines += child.stdout.read().splitlines()  # what it said before it died, still in the pipe
    child.stdout.close()
    for words in (line.split() for line in lines):
        if not words:
            continue
        if words[0] == "added" and len(words) == 3:
            added.add(f"{words[1]}@{words[2]}")
        elif words[0] == "acking":
            in_flight = set(words[1:])
        elif words[0] == "acked":
            acked |= in_flight
            in_flight = set()
    assert len(added) >= 400, "the writer did not get going"
    assert acked, "the writer acknowledged nothing"
    held = {f"{r.check}@{r.started_at.isoformat()}" for r in Spool(path).pending(10**6).results}
    assert not held & acked, "an acknowledged result is back in the spool"
    lost = added - acked - in_flight - held
    assert not lost, f"unacknowledged results lost: {sorted(lost)[:5]}"
