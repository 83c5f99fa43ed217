"""The probe scheduler: stable phases spread over the interval, caps, no double starts."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from agent.catalog.loader import load_text
from agent.catalog.model import Catalog, Check
from agent.scheduler import ProbeScheduler, due_time, phase_seconds
from checks.clock import SystemClock


class ShiftedClock(SystemClock):
    """The system clock moved by a fixed amount: real time passes, at another instant."""

    def __init__(self, shift: timedelta) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return super().now() + self.shift


def _catalog(
    count: int, interval: str = "1s", timeout: str = "5s", host: str = "127.0.0.1"
) -> Catalog:
    services = "\n".join(
        f"""  - id: s{i}
    name: S{i}
    macro_service: formacao
    tier: bronze
    interval: {interval}
    timeout: {timeout}
    checks: [{{tcp: {{host: {host}, port: {1000 + i}}}}}]"""
        for i in range(count)
    )
    return load_text(f"version: 1\nservices:\n{services}\n")


def test_phases_are_stable_and_spread_over_the_interval() -> None:
    phases = [phase_seconds(f"svc-{i}/http", 30.0) for i in range(10_000)]
    assert phases == [phase_seconds(f"svc-{i}/http", 30.0) for i in range(10_000)]
    assert all(0 <= p < 30 for p in phases)
    per_second = [0] * 30
    for p in phases:
        per_second[int(p)] += 1
    # uniform would be 333 per second; a hash must not bunch them into a few seconds
    assert max(per_second) < 450 and min(per_second) > 220


def test_due_time_is_the_latest_tick_at_or_before_now() -> None:
    now = datetime(2026, 10, 5, 12, 0, 7, tzinfo=UTC)
    due = due_time("ssd/http", 30.0, now)
    assert now - timedelta(seconds=30) < due <= now
    assert due_time("ssd/http", 30.0, due) == due
    assert due_time("ssd/http", 30.0, due + timedelta(seconds=29.9)) == due


async def test_every_check_runs_at_its_interval_and_lateness_is_recorded() -> None:
    ran: list[str] = []

    async def job(check: Check, due: datetime) -> None:
        ran.append(check.id)

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(3))
    await asyncio.sleep(2.6)
    await scheduler.shutdown(grace=1)
    for i in range(3):
        assert 2 <= ran.count(f"s{i}/tcp") <= 3
    assert scheduler.stats.started_total == len(ran)
    assert len(scheduler.stats.take_lateness()) == len(ran)


async def test_a_probe_still_running_is_not_started_twice() -> None:
    running = 0
    most = 0

    async def slow_job(check: Check, due: datetime) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(2.2)
        running -= 1

    scheduler = ProbeScheduler(slow_job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(1))
    await asyncio.sleep(2.5)
    await scheduler.shutdown(grace=3)
    assert most == 1
    assert scheduler.stats.overlaps_total >= 1


async def test_per_host_cap_limits_concurrent_probes_to_one_host() -> None:
    running = 0
    most = 0

    async def job(check: Check, due: datetime) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.3)
        running -= 1

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=50, max_per_host=2)
    scheduler.start(_catalog(8))
    await asyncio.sleep(1.5)
    await scheduler.shutdown(grace=1)
    assert most == 2
    assert scheduler.stats.started_total >= 8


async def test_sync_adds_and_removes_jobs_without_touching_unchanged_ones() -> None:
    async def job(check: Check, due: datetime) -> None:
        return None

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(3))
    assert scheduler.job_count == 3
    scheduler.sync(_catalog(2))
    assert scheduler.job_count == 2
    scheduler.sync(_catalog(4, interval="2s"))
    assert scheduler.job_count == 4
    await scheduler.shutdown(grace=1)


async def test_shutdown_drains_probes_in_flight_and_drops_waiting_ones_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished: list[str] = []

    async def job(check: Check, due: datetime) -> None:
        await asyncio.sleep(0.8)
        finished.append(check.id)

    # one slot: one probe runs, the others wait for it
    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=1, max_per_host=1)
    scheduler.start(_catalog(4, interval="10s"))
    await asyncio.sleep(0.1)
    for check_id in list(scheduler._checks):
        scheduler._fire(check_id)  # every tick due now
    await asyncio.sleep(0.1)
    # A check's own tick may come while its probe runs (phases are spread over the 10 s):
    # that overlap warning is the scheduler's, not shutdown's, so only shutdown is judged.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await scheduler.shutdown(grace=5)
    assert len(finished) == 1  # the one in flight finished; the waiting ones never started
    assert scheduler.stats.started_total == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


async def test_overlapped_ticks_are_logged_once_a_minute_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def job(check: Check, due: datetime) -> None:
        await asyncio.sleep(10)

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(1, interval="30s"))
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            scheduler._fire("s0/tcp")
    await scheduler.shutdown(grace=0.1)
    assert scheduler.stats.overlaps_total == 49
    assert len([r for r in caplog.records if "still running" in r.getMessage()]) == 1


async def test_checks_of_one_second_of_their_interval_share_one_loop_timer() -> None:
    async def job(check: Check, due: datetime) -> None:
        return None

    catalog = _catalog(2_000, interval="30s")
    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(catalog)
    jobs = scheduler._slot_timers
    slots = {int(phase_seconds(c, 30.0)) for c in scheduler._checks}
    assert scheduler.job_count == 2_000
    assert len(jobs) == len(slots) <= 30
    scheduler.sync(_catalog(2_000, interval="10s"))  # every check moves to a 10 s slot
    assert len(scheduler._slot_timers) <= 10
    await scheduler.shutdown(grace=1)


async def test_a_check_starts_at_its_own_instant_inside_its_slot() -> None:
    started: dict[str, datetime] = {}

    async def job(check: Check, due: datetime) -> None:
        started[check.id] = datetime.now(UTC)

    catalog = _catalog(40, interval="30s")
    check_id = max(catalog.checks, key=lambda c: phase_seconds(c, 30.0) % 1.0)  # late in a slot
    due = due_time(check_id, 30.0, datetime.now(UTC)) + timedelta(seconds=30)
    # The clock says the check is due in 0.4 s: start() arms what is left of the current slot.
    clock = ShiftedClock(due - timedelta(seconds=0.4) - datetime.now(UTC))
    scheduler = ProbeScheduler(job, clock, max_in_flight=50, max_per_host=50)
    began = datetime.now(UTC)
    scheduler.start(catalog)
    await asyncio.sleep(0.2)
    assert check_id not in started  # not before its instant
    await asyncio.sleep(0.6)
    await scheduler.shutdown(grace=1)
    assert 0.35 <= (started[check_id] - began).total_seconds() < 0.75


async def test_a_timer_firing_early_never_starts_a_probe_before_its_due_instant() -> None:
    started: list[datetime] = []

    async def job(check: Check, due: datetime) -> None:
        started.append(datetime.now(UTC))

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(1, interval="30s"))
    due = datetime.now(UTC) + timedelta(seconds=0.2)
    scheduler._fire("s0/tcp", due)  # as a loop timer 200 ms early would
    await asyncio.sleep(0.4)
    await scheduler.shutdown(grace=1)
    assert len(started) == 1 and started[0] >= due


async def test_each_checks_last_start_and_last_result_times_are_kept_for_staleness() -> None:
    async def job(check: Check, due: datetime) -> None:
        await asyncio.sleep(0.1)

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(_catalog(1, interval="30s"))
    assert scheduler.last_started("s0/tcp") is None and scheduler.last_finished("s0/tcp") is None
    before = datetime.now(UTC)
    scheduler._fire("s0/tcp")
    await asyncio.sleep(0.3)
    await scheduler.shutdown(grace=1)
    started, finished = scheduler.last_started("s0/tcp"), scheduler.last_finished("s0/tcp")
    assert started is not None and finished is not None
    assert before <= started < finished <= datetime.now(UTC)


async def test_a_check_run_from_worker_locations_only_is_not_probed_here() -> None:
    async def job(check: Check, due: datetime) -> None:
        return None

    text = """version: 1
services:
  - {id: a, name: A, macro_service: formacao, tier: bronze, locations: [porto, lisboa],
     checks: [{tcp: {host: 127.0.0.1, port: 1001}}]}
  - {id: b, name: B, macro_service: formacao, tier: bronze, locations: [porto, local],
     checks: [{tcp: {host: 127.0.0.1, port: 1002}}]}
  - {id: c, name: C, macro_service: formacao, tier: bronze,
     checks: [{tcp: {host: 127.0.0.1, port: 1003}}]}
"""
    catalog = load_text(text, locations=("porto", "lisboa"))
    assert catalog.checks["a/tcp"].locations == ("porto", "lisboa")
    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=10, max_per_host=10)
    scheduler.start(catalog)
    assert scheduler.job_count == 2  # b and c: the core probes a only through its workers
    assert scheduler.last_started("a/tcp") is None
    await scheduler.shutdown(grace=1)
