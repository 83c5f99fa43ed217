"""Run every check at its interval on APScheduler, phases spread, concurrency capped.

Each check fires at `anchor + phase + k * interval`, where the phase is a stable hash of the
check id, so 10,000 checks spread over their interval and keep their phase across restarts.
A probe still running at its next tick is not started twice (counted as an overlap), and a
probe that waits for a free slot is started late, never dropped: its lateness is reported.

Checks of one interval whose phases fall in the same second share one APScheduler job (a
"slot"): it fires at the second's start and sets one loop timer per check for its exact due
instant. One APScheduler job per check cost ~0.26 ms of CPU per run at 10,000 checks (its job
store update, run-time computation and events: bench/RESULTS.md "Scale"), a fifth of a whole
probe; a loop timer costs a few microseconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from agent.catalog.model import Catalog, Check
from checks.clock import Clock
from checks.specs import target_host

log = logging.getLogger(__name__)

ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)
OVERLAP_LOG_EVERY = 60.0  # seconds: one summary line, not one warning per overlapped tick

SLOT_SECONDS = 1.0
TIMER_SLACK = 0.001  # loop timers may fire up to a millisecond early; a probe never starts early

ProbeJob = Callable[[Check, datetime], Awaitable[None]]
"""Runs one probe of `check`; the datetime is when it was due."""

SlotKey = tuple[float, int]
"""(interval, slot): the checks of that interval whose phase is in [slot, slot + 1) seconds."""


def phase_seconds(check_id: str, interval: float) -> float:
    """Stable offset in [0, interval) derived from the check id."""
    digest = int.from_bytes(hashlib.blake2b(check_id.encode(), digest_size=8).digest(), "big")
    return (digest % max(1, int(interval * 1000))) / 1000.0


def due_time(check_id: str, interval: float, now: datetime) -> datetime:
    """The most recent scheduled tick of this check at or before `now`."""
    return _latest_tick(phase_seconds(check_id, interval), interval, now)


def _latest_tick(phase: float, interval: float, now: datetime) -> datetime:
    start = ANCHOR + timedelta(seconds=phase)
    ticks = (now - start).total_seconds() // interval
    return start + timedelta(seconds=ticks * interval)


def _slot_of(check: Check) -> tuple[SlotKey, float]:
    """The check's slot and its phase's offset inside it."""
    phase = phase_seconds(check.id, check.interval)
    slot = int(phase // SLOT_SECONDS)
    return (check.interval, slot), phase - slot * SLOT_SECONDS


@dataclass
class SchedulerStats:
    started_total: int = 0
    overlaps_total: int = 0  # ticks not started because the previous probe still ran
    in_flight: int = 0
    lateness: list[float] = field(default_factory=list)  # drained by the metrics collector

    def take_lateness(self) -> list[float]:
        taken, self.lateness = self.lateness, []
        return taken


class ProbeScheduler:
    def __init__(
        self,
        job: ProbeJob,
        clock: Clock,
        max_in_flight: int,
        max_per_host: int,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self._job = job
        self._clock = clock
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_per_host = max_per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self._checks: dict[str, Check] = {}
        self._members: dict[SlotKey, dict[str, float]] = {}  # check id -> offset in its slot
        self._host_of: dict[str, str | None] = {}  # check id -> the host its probe talks to
        self._running: dict[str, asyncio.Task[None]] = {}
        self._overlaps_logged = 0  # overlaps_total at the last summary line
        self._overlap_logged_at: float | None = None  # loop time of that line
        self._stopping = False
        self._started: set[str] = set()  # checks whose probe holds its slots and runs
        self.stats = SchedulerStats()

    @property
    def job_count(self) -> int:
        return len(self._checks)

    def start(self, catalog: Catalog) -> None:
        self.sync(catalog)
        self._scheduler.start()
        now = self._clock.now()
        for key in self._members:  # the slots already under way: their checks still due
            interval, slot = key
            tick = _latest_tick(slot * SLOT_SECONDS, interval, now)
            self._arm(key, tick, now, only_after=now)

    def sync(self, catalog: Catalog) -> None:
        """Make the jobs match the catalogue: add new, drop removed, re-time changed."""
        self._checks = {c.id: c for s in catalog.monitored for c in s.checks}
        self._host_of = {c.id: target_host(c.spec) for c in self._checks.values()}
        slots: dict[SlotKey, dict[str, float]] = {}
        for check in self._checks.values():
            key, offset = _slot_of(check)
            slots.setdefault(key, {})[check.id] = offset
        for key in set(self._members) - set(slots):
            self._scheduler.remove_job(_slot_job_id(key))
        for key in set(slots) - set(self._members):
            self._schedule(key)
        self._members = slots

    def _schedule(self, key: SlotKey) -> None:
        interval, slot = key
        self._scheduler.add_job(
            self._fire_slot,
            IntervalTrigger(
                seconds=interval,
                start_date=ANCHOR + timedelta(seconds=slot * SLOT_SECONDS),
                timezone=UTC,
            ),
            args=[key],
            id=_slot_job_id(key),
            coalesce=True,
            misfire_grace_time=None,  # late is better than never: run it and report lateness
        )

    async def _fire_slot(self, key: SlotKey) -> None:
        """APScheduler's job: a loop timer for each check of the slot at its due instant."""
        if self._stopping:
            return
        now = self._clock.now()
        interval, slot = key
        self._arm(key, _latest_tick(slot * SLOT_SECONDS, interval, now), now)

    def _arm(
        self, key: SlotKey, tick: datetime, now: datetime, only_after: datetime | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        at_now = loop.time()
        for check_id, offset in self._members.get(key, {}).items():
            due = tick + timedelta(seconds=offset)
            if only_after is None or due > only_after:
                # A due instant already past (the slot fired late) starts at once, late.
                delay = (due - now).total_seconds() + TIMER_SLACK
                loop.call_at(at_now + delay, self._fire, check_id, due)

    def _fire(self, check_id: str, due: datetime | None = None) -> None:
        """Start the probe in a task of our own (never held by APScheduler, so its shutdown
        cancels none); `due` defaults to the check's latest tick."""
        check = self._checks.get(check_id)
        if check is None or self._stopping:
            return
        if check_id in self._running:
            self.stats.overlaps_total += 1
            self._log_overlaps(check_id)
            return
        now = self._clock.now()
        if due is None:
            due = due_time(check.id, check.interval, now)
        elif now < due:  # a timer fired early (they have millisecond resolution): not yet
            loop = asyncio.get_running_loop()
            wait = (due - now).total_seconds() + TIMER_SLACK
            loop.call_at(loop.time() + wait, self._fire, check_id, due)
            return
        task = asyncio.get_running_loop().create_task(self._probe(check, due))
        self._running[check_id] = task

    async def _probe(self, check: Check, due: datetime) -> None:
        try:
            await self._run_capped(check, due)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # cancelled by `shutdown`: expected, nothing to report
        except Exception:
            log.exception("probe of %s failed", check.id)
        finally:
            del self._running[check.id]

    def _log_overlaps(self, check_id: str) -> None:
        """At most one line a minute: when the agent falls behind, thousands of ticks overlap,
        and a line each would cost the loop more than the probes."""
        now = asyncio.get_running_loop().time()
        last = self._overlap_logged_at
        if last is not None and now - last < OVERLAP_LOG_EVERY:
            return
        count = self.stats.overlaps_total - self._overlaps_logged
        self._overlaps_logged, self._overlap_logged_at = self.stats.overlaps_total, now
        if last is None:
            log.warning("probe %s still running at its next tick; not started twice", check_id)
        else:
            log.warning(
                "%d ticks in the last %.0f s found their probe still running (not started "
                "twice; the agent is behind), e.g. %s",
                count,
                now - last,
                check_id,
            )

    async def _run_capped(self, check: Check, due: datetime) -> None:
        host = self._host_of[check.id] if check.id in self._host_of else target_host(check.spec)
        per_host = self._host_slot(host) if host else None
        async with self._slots:
            if per_host is not None:
                async with per_host:
                    await self._run(check, due)
            else:
                await self._run(check, due)

    async def _run(self, check: Check, due: datetime) -> None:
        now = self._clock.now()
        self.stats.lateness.append(max(0.0, (now - due).total_seconds()))
        self.stats.started_total += 1
        self.stats.in_flight += 1
        self._started.add(check.id)
        try:
            await self._job(check, due)
        except Exception:
            log.exception("probe job %s failed", check.id)
        finally:
            self.stats.in_flight -= 1
            self._started.discard(check.id)

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self._max_per_host)
        return slot

    async def shutdown(self, grace: float) -> None:
        """Stop firing; probes still waiting for a slot are dropped (they have not started),
        probes in flight get up to `grace` seconds to finish, then are cancelled."""
        self._stopping = True
        if self._scheduler.running:
            # Let the ticks already handed to the loop run first (they return at once now):
            # APScheduler's shutdown cancels them, and logs each with a traceback.
            self._scheduler.pause()
            for _ in range(3):
                await asyncio.sleep(0)
            self._scheduler.shutdown(wait=False)
        waiting = [t for c, t in self._running.items() if c not in self._started]
        for task in waiting:
            task.cancel()
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if waiting:
            log.info("shutdown: %d probes waiting for a slot were not started", len(waiting))


def _slot_job_id(key: SlotKey) -> str:
    interval, slot = key
    return f"slot/{interval:g}s/{slot}"
