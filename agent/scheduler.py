"""Run every check at its interval on APScheduler, phases spread, concurrency capped.

Each check fires at `anchor + phase + k * interval`, where the phase is a stable hash of the
check id, so 10,000 checks spread over their interval and keep their phase across restarts.
A probe still running at its next tick is not started twice (counted as an overlap), and a
probe that waits for a free slot is started late, never dropped: its lateness is reported.
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

ProbeJob = Callable[[Check, datetime], Awaitable[None]]
"""Runs one probe of `check`; the datetime is when it was due."""


def phase_seconds(check_id: str, interval: float) -> float:
    """Stable offset in [0, interval) derived from the check id."""
    digest = int.from_bytes(hashlib.blake2b(check_id.encode(), digest_size=8).digest(), "big")
    return (digest % max(1, int(interval * 1000))) / 1000.0


def due_time(check_id: str, interval: float, now: datetime) -> datetime:
    """The most recent scheduled tick of this check at or before `now`."""
    start = ANCHOR + timedelta(seconds=phase_seconds(check_id, interval))
    ticks = (now - start).total_seconds() // interval
    return start + timedelta(seconds=ticks * interval)


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

    def sync(self, catalog: Catalog) -> None:
        """Make the jobs match the catalogue: add new, drop removed, re-time changed."""
        wanted = {c.id: c for s in catalog.monitored for c in s.checks}
        for check_id in set(self._checks) - set(wanted):
            self._scheduler.remove_job(check_id)
            del self._checks[check_id]
        for check_id, check in wanted.items():
            old = self._checks.get(check_id)
            self._checks[check_id] = check
            if old is None or old.interval != check.interval:
                self._schedule(check, replace=old is not None)

    def _schedule(self, check: Check, replace: bool) -> None:
        start = ANCHOR + timedelta(seconds=phase_seconds(check.id, check.interval))
        self._scheduler.add_job(
            self._fire,
            IntervalTrigger(seconds=check.interval, start_date=start, timezone=UTC),
            args=[check.id],
            id=check.id,
            replace_existing=replace,
            max_instances=2,  # `_fire` returns at once; our own overlap guard counts skips
            coalesce=True,
            misfire_grace_time=None,  # late is better than never: run it and report lateness
        )

    async def _fire(self, check_id: str) -> None:
        """APScheduler's job: start the probe in a task of our own and return at once, so
        APScheduler never holds (nor, at its shutdown, cancels) a probe."""
        check = self._checks.get(check_id)
        if check is None or self._stopping:
            return
        if check_id in self._running:
            self.stats.overlaps_total += 1
            self._log_overlaps(check_id)
            return
        due = due_time(check.id, check.interval, self._clock.now())
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
        host = target_host(check.spec)
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
