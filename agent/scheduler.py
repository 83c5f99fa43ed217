"""Run every check at its interval on loop-monotonic timers, phases spread, concurrency capped.

Each check fires at `anchor + phase + k * interval`, where the phase is a stable hash of the
check id, so 10,000 checks spread over their interval and keep their phase across restarts.
A probe still running at its next tick is not started twice (counted as an overlap), and a
probe that waits for a free slot is started late, never dropped: its lateness is reported.

Checks of one interval whose phases fall in the same second share one loop timer (a "slot"):
it fires at the second's start and sets one loop timer per check for its exact due instant.
Ticks are driven by the loop's monotonic clock (`loop.time()`); the wall clock is read once at
start (and after a step) to place the phases, and only stamps the due instants handed to the
probe job. A wall-clock step (NTP, an operator's `date -s`) therefore never stops or bunches
probing: it is detected by the clock watch (agent.clock_watch), logged, counted and kept.

The in-flight budget is split so a partition cannot starve the checks that matter: probes of
a host that timed out this round ("suspect") hold at most a quarter of it and get a shortened
timeout, and a quarter is kept for the top tier (agent.fairness).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agent.catalog.model import LOCAL, Catalog, Check
from agent.clock_watch import ClockStep, ClockWatch
from agent.fairness import Budget, HostGate
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
    clock_steps_total: int = 0  # wall-clock steps seen (either direction)
    last_clock_step: ClockStep | None = None
    shortened_total: int = 0  # probes of a suspect host run with a shortened timeout
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
        on_clock_step: Callable[[ClockStep], None] | None = None,
    ) -> None:
        self._job = job
        self._on_clock_step = on_clock_step  # the agent records each step in the store
        self._clock = clock
        self._budget = Budget(max_in_flight)
        self._max_per_host = max_per_host
        self._hosts: dict[str, HostGate] = {}
        self._checks: dict[str, Check] = {}
        self._members: dict[SlotKey, dict[str, float]] = {}  # check id -> offset in its slot
        self._slot_timers: dict[SlotKey, asyncio.TimerHandle] = {}
        self._host_of: dict[str, str | None] = {}  # check id -> the host its probe talks to
        self._tier_of: dict[str, str] = {}  # check id -> its service's tier
        self._running: dict[str, asyncio.Task[None]] = {}
        self._last_started: dict[str, datetime] = {}  # check id -> wall stamp of its last start
        self._last_finished: dict[str, datetime] = {}  # check id -> wall stamp of its last end
        self._overlaps_logged = 0  # overlaps_total at the last summary line
        self._overlap_logged_at: float | None = None  # loop time of that line
        self._stopping = False
        self._started: set[str] = set()  # checks whose probe holds its slots and runs
        self._watch: ClockWatch | None = None
        self.stats = SchedulerStats()

    @property
    def job_count(self) -> int:
        return len(self._checks)

    def last_started(self, check_id: str) -> datetime | None:
        """Wall stamp of the check's last probe start (None before the first): a state whose
        last start is older than a few intervals is stale."""
        return self._last_started.get(check_id)

    def last_finished(self, check_id: str) -> datetime | None:
        """Wall stamp of the end of the check's last probe (its last result), None before."""
        return self._last_finished.get(check_id)

    def start(self, catalog: Catalog) -> None:
        self._watch = ClockWatch(self._clock, self._on_step)
        self._watch.start()
        self.sync(catalog)
        now = self._watch.wall(self._watch.loop.time())
        for key in self._members:  # the slots already under way: their checks still due
            interval, slot = key
            self._arm(key, _latest_tick(slot * SLOT_SECONDS, interval, now), only_after=now)

    def sync(self, catalog: Catalog) -> None:
        """Make the jobs match the catalogue: add new, drop removed, re-time changed.

        Only the checks run from here (`local` among their locations, semantics.md §8): a
        check the catalogue gives to workers only is probed by them, never by the core too.
        A worker's assignment names no locations, so all of its checks are local to it."""
        here = [(s, c) for s in catalog.monitored for c in s.checks if LOCAL in c.locations]
        self._checks = {c.id: c for _s, c in here}
        self._tier_of = {c.id: s.tier for s, c in here}
        self._host_of = {c.id: target_host(c.spec) for c in self._checks.values()}
        slots: dict[SlotKey, dict[str, float]] = {}
        for check in self._checks.values():
            key, offset = _slot_of(check)
            slots.setdefault(key, {})[check.id] = offset
        for key in set(self._members) - set(slots):
            timer = self._slot_timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        self._members = slots
        for key in set(slots) - set(self._slot_timers):
            self._schedule(key)

    def _schedule(self, key: SlotKey) -> None:
        """Time the slot's next fire on the loop clock, from the wall phase of now."""
        if self._watch is None:
            return
        interval, slot = key
        loop = self._watch.loop
        now = self._watch.wall(loop.time())
        tick = _latest_tick(slot * SLOT_SECONDS, interval, now) + timedelta(seconds=interval)
        at = self._watch.mono(tick)
        self._slot_timers[key] = loop.call_at(at, self._fire_slot, key, at)

    def _fire_slot(self, key: SlotKey, at: float) -> None:
        """The slot's timer: a loop timer for each check of the slot, and the next fire one
        interval later on the monotonic clock (never re-read from the wall)."""
        if self._stopping or key not in self._members or self._watch is None:
            return
        interval, _ = key
        loop = self._watch.loop
        nxt = at + interval
        if nxt < loop.time():  # the loop stalled a whole interval: skip, do not burst
            nxt += (loop.time() - nxt) // interval * interval + interval
        self._slot_timers[key] = loop.call_at(nxt, self._fire_slot, key, nxt)
        self._arm(key, self._watch.wall(at))

    def _arm(self, key: SlotKey, tick: datetime, only_after: datetime | None = None) -> None:
        assert self._watch is not None
        loop = self._watch.loop
        base = self._watch.mono(tick)
        for check_id, offset in self._members.get(key, {}).items():
            due = tick + timedelta(seconds=offset)
            if only_after is None or due > only_after:
                # A due instant already past (the slot fired late) starts at once, late.
                at = base + offset
                loop.call_at(at + TIMER_SLACK, self._fire, check_id, due, at)

    def _fire(self, check_id: str, due: datetime | None = None, at: float | None = None) -> None:
        """Start the probe in a task of our own; `due` defaults to the check's latest tick.
        `at` is its loop instant, carried along so a clock step in between cannot move it."""
        check = self._checks.get(check_id)
        if check is None or self._stopping or self._watch is None:
            return
        if check_id in self._running:
            self.stats.overlaps_total += 1
            self._log_overlaps(check_id)
            return
        loop = self._watch.loop
        if due is None:
            due = due_time(check.id, check.interval, self._watch.wall(loop.time()))
        if at is None:
            at = self._watch.mono(due)
        if at > loop.time():  # a timer fired early (they have millisecond resolution): not yet
            loop.call_at(at + TIMER_SLACK, self._fire, check_id, due, at)
            return
        task = loop.create_task(self._probe(check, due, at))
        self._running[check_id] = task

    def _on_step(self, step: ClockStep) -> None:
        self.stats.clock_steps_total += 1
        self.stats.last_clock_step = step
        log.warning(
            "wall clock stepped by %+.1f s at %s; probing continues on the monotonic clock",
            step.seconds,
            step.at.isoformat(),
        )
        if self._on_clock_step is not None:
            self._on_clock_step(step)

    async def _probe(self, check: Check, due: datetime, at: float) -> None:
        try:
            await self._run_capped(check, due, at)
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

    async def _run_capped(self, check: Check, due: datetime, at: float) -> None:
        host = self._host_of[check.id] if check.id in self._host_of else target_host(check.spec)
        tier = self._tier_of.get(check.id, "")
        gate = self._host_gate(host) if host else None
        if gate is not None:  # first: a probe queued behind its host holds no shared slot
            await gate.acquire(tier)
        try:
            effective, held = await self._budget.acquire(host, tier, check.interval, check.timeout)
            try:
                if effective < check.timeout:
                    self.stats.shortened_total += 1
                await self._run(check, due, at, host, effective)
            finally:
                self._budget.release(held)
        finally:
            if gate is not None:
                gate.release()

    async def _run(
        self, check: Check, due: datetime, at: float, host: str | None, timeout: float
    ) -> None:
        assert self._watch is not None
        loop = self._watch.loop
        began = loop.time()
        self.stats.lateness.append(max(0.0, began - at))
        self.stats.started_total += 1
        self.stats.in_flight += 1
        self._started.add(check.id)
        self._last_started[check.id] = self._clock.now()
        try:
            await self._job(self._budget.with_timeout(check, timeout), due)
        except Exception:
            log.exception("probe job %s failed", check.id)
        finally:
            self.stats.in_flight -= 1
            self._started.discard(check.id)
            self._last_finished[check.id] = self._clock.now()
            self._budget.finished(host, loop.time() - began, timeout)

    def _host_gate(self, host: str) -> HostGate:
        gate = self._hosts.get(host)
        if gate is None:
            gate = self._hosts[host] = HostGate(self._max_per_host)
        return gate

    async def shutdown(self, grace: float) -> None:
        """Stop firing; probes still waiting for a slot are dropped (they have not started),
        probes in flight get up to `grace` seconds to finish, then are cancelled."""
        self._stopping = True
        for timer in self._slot_timers.values():
            timer.cancel()
        self._slot_timers.clear()
        if self._watch is not None:
            self._watch.stop()
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
