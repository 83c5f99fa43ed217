"""The agent's own health: is it still probing and still recording?

A monitor that stops probing or recording must say so, or the board freezes while looking
fine. `AgentHealth` is fed samples of the runtime's counters (probes started, batches
committed, queue depth, the writer's last error) and judges them against a monotonic clock
it is given, so tests drive time by hand. It only keeps when each counter last moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.catalog.model import Catalog
    from agent.clock_watch import ClockStep
    from agent.scheduler import ProbeScheduler
    from agent.store.writer import StoreWriter

# Every reason /healthz and `vigia_agent_unhealthy_reason` can name, in report order.
PROBING_STALLED = "probing_stalled"
STORE_NOT_COMMITTING = "store_not_committing"
STORE_QUEUE_FULL = "store_queue_full"
STORE_UNAVAILABLE = "store_unavailable"
# A wall-clock step is not among them: ticks run on the monotonic clock, so probing goes on;
# the step is logged, counted and shown beside the reasons (agent/scheduler.py).
REASONS = (PROBING_STALLED, STORE_NOT_COMMITTING, STORE_QUEUE_FULL, STORE_UNAVAILABLE)


@dataclass(frozen=True)
class HealthLimits:
    probe_silence: float = 30.0  # seconds without a probe start, while checks are scheduled
    commit_silence: float = 60.0  # seconds without a commit, while effects wait
    max_queue: int = 10_000  # effects waiting for the store

    @classmethod
    def for_checks(cls, shortest_interval: float, timeout: float) -> HealthLimits:
        """Silence of a few intervals: one slow round is not a stall, three are."""
        return cls(probe_silence=max(30.0, 3 * shortest_interval + timeout))


def limits_for(catalog: Catalog) -> HealthLimits:
    """The limits for the catalogue's shortest interval and longest timeout."""
    checks = catalog.checks.values()
    shortest = min((c.interval for c in checks), default=60.0)
    timeout = max((c.timeout for c in checks), default=10.0)
    return HealthLimits.for_checks(shortest, timeout)


@dataclass(frozen=True)
class HealthSample:
    checks: int  # checks scheduled
    probes_started: int  # a counter: only its movement matters
    batches_committed: int  # a counter
    queue_depth: int  # effects submitted and not yet committed
    store_error: str = ""  # the writer's last failed commit, "" once one succeeds


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    reasons: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)


class AgentHealth:
    def __init__(self, monotonic: Callable[[], float], limits: HealthLimits) -> None:
        self._now = monotonic
        self.limits = limits
        start = monotonic()
        self._probes = (-1, start)  # (last counter value, when it last moved)
        self._commits = (-1, start)

    def judge(self, sample: HealthSample) -> HealthReport:
        now = self._now()
        self._probes = _moved(self._probes, sample.probes_started, now)
        self._commits = _moved(self._commits, sample.batches_committed, now)
        probe_quiet = now - self._probes[1]
        commit_quiet = now - self._commits[1]
        lim = self.limits
        found = {
            PROBING_STALLED: sample.checks > 0 and probe_quiet > lim.probe_silence,
            # "though results arrive": an idle agent with nothing queued is not stalled
            STORE_NOT_COMMITTING: sample.queue_depth > 0 and commit_quiet > lim.commit_silence,
            STORE_QUEUE_FULL: sample.queue_depth > lim.max_queue,
            STORE_UNAVAILABLE: bool(sample.store_error),
        }
        reasons = tuple(r for r in REASONS if found[r])
        details: dict[str, Any] = {
            "seconds_since_probe_start": round(probe_quiet, 3),
            "seconds_since_commit": round(commit_quiet, 3),
        }
        if sample.store_error:
            details["store_error"] = sample.store_error
        return HealthReport(not reasons, reasons, details)


def _moved(last: tuple[int, float], value: int, now: float) -> tuple[int, float]:
    return last if value == last[0] else (value, now)


def sample_of(scheduler: ProbeScheduler, writer: StoreWriter) -> HealthSample:
    """The runtime's counters, as `AgentHealth.judge` takes them."""
    return HealthSample(
        checks=scheduler.job_count,
        probes_started=scheduler.stats.started_total,
        batches_committed=writer.batches_total,
        queue_depth=writer.depth,
        store_error=writer.last_error,
    )


def healthz(
    report: HealthReport,
    scheduler: ProbeScheduler,
    writer: StoreWriter,
    *,
    reload_ok: bool,
    connectivity_ok: bool,
) -> dict[str, Any]:
    """What /healthz answers: the verdict, its details and the counters behind them."""
    return {
        "healthy": report.healthy,
        "reasons": list(report.reasons),
        **report.details,
        "checks": scheduler.job_count,
        "in_flight": scheduler.stats.in_flight,
        "store_queue": writer.depth,
        "catalog_reload_ok": reload_ok,
        "connectivity_ok": connectivity_ok,
        "clock_steps": scheduler.stats.clock_steps_total,
        "last_clock_step": _step_view(scheduler.stats.last_clock_step),
    }


def _step_view(step: ClockStep | None) -> dict[str, Any] | None:
    """The last wall-clock step, for /healthz: when and by how much (probing went on)."""
    return None if step is None else {"at": step.at.isoformat(), "seconds": step.seconds}
