"""A location's probe worker (`vigia probe`, issue #14, semantics.md §8).

It pulls its assignment (the checks of its location) from the core, runs them with the same
scheduler and probes as `vigia run`, and pushes the results in batches. Every result goes to
the local spool first and leaves it only once the core acknowledged it, so a cut link, a core
failover or a killed worker loses nothing within the spool's horizon. The last assignment is
kept in the spool too: a worker restarted while the core is away goes on probing.

Results reach the spool in small groups (one commit per flush, not per probe); a kill -9
loses at most the last flush interval of results, which is as if those probes had not run.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import ValidationError

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from agent.catalog.model import Catalog, Check
from agent.connectivity import Connectivity
from agent.locations.core_client import CoreClient, CoreRefused, CoreUnreachable
from agent.locations.spool import Pending, Spool
from agent.locations.wire import (
    FLUSH_EVERY_SECONDS,
    MAX_REASON_CHARS,
    PUSH_EVERY_SECONDS,
    Assignment,
    ResultBatch,
    WireResult,
)
from agent.metrics import build_version
from agent.scheduler import ProbeScheduler
from agent.settings import split_host_port
from checks.clock import Clock
from checks.context import ProbeContext
from checks.periodic import every
from checks.result import ProbeResult
from checks.runner import run_probe

log = logging.getLogger(__name__)

CONNECTIVITY_EVERY_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_LAST_SECONDS = 30.0
DEFAULT_BATCH = 500  # well under the core's 1 MiB body limit with full measurements
SHUTDOWN_GRACE_SECONDS = 5.0
MAX_UNSPOOLED = 100_000  # results kept in memory while the spool cannot be written


@dataclass(frozen=True)
class WorkerOptions:
    location: str
    push_every: float = PUSH_EVERY_SECONDS
    assignment_every: float = 60.0
    batch_size: int = DEFAULT_BATCH
    max_in_flight: int = 256
    max_per_host: int = 16
    environ: Mapping[str, str] | None = None  # resolves the assignment's `${NAME}` values


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.probes = Counter(
            "vigia_worker_probes", "Probes run by this worker.", registry=registry
        )
        self.pushed = Counter(
            "vigia_worker_results_pushed",
            "Results the core acknowledged, by whether it already held them.",
            ["stored"],
            registry=registry,
        )
        self.push_failures = Counter(
            "vigia_worker_push_failures",
            "Batches not acknowledged, by reason.",
            ["reason"],
            registry=registry,
        )
        self.spool_depth = Gauge(
            "vigia_worker_spool_depth", "Results waiting for the core.", registry=registry
        )
        self.last_ack = Gauge(
            "vigia_worker_last_ack_timestamp_seconds",
            "When the core last acknowledged a batch.",
            registry=registry,
        )
        self.checks = Gauge("vigia_worker_checks", "Checks assigned.", registry=registry)
        self.blind = Gauge(
            "vigia_worker_blind", "1 while the connectivity check fails.", registry=registry
        )


class ProbeWorker:
    def __init__(
        self,
        options: WorkerOptions,
        client: CoreClient,
        spool: Spool,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.options = options
        self.client = client
        self.spool = spool
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.probes = ProbeContext.create(clock)
        self.connectivity = Connectivity(None)
        self.assignment: Assignment | None = None
        self.catalog: Catalog | None = None
        self.batch_size = options.batch_size
        self.last_ack: datetime | None = None
        self.core_problem = ""  # why the last push failed; "" after a success
        self.refusal: CoreRefused | None = None  # the core's last "no", until a push succeeds
        self.spool_error = ""
        self._unspooled: list[WireResult] = []
        self._scheduler: ProbeScheduler | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Probe and push until `stop` is set; then flush, push once more, close."""
        try:
            if await self._first_assignment(stop):
                self._start()
                await stop.wait()
        finally:
            await self._shutdown()

    def _start(self) -> None:
        assert self.catalog is not None
        self._scheduler = ProbeScheduler(
            self._probe, self.clock, self.options.max_in_flight, self.options.max_per_host
        )
        self._scheduler.start(self.catalog)
        for work in (
            self._push_loop(),
            every(self.options.assignment_every, self.refresh_assignment, first_now=False),
            every(FLUSH_EVERY_SECONDS, self._flush_async, first_now=False),
            every(CONNECTIVITY_EVERY_SECONDS, self._refresh_connectivity, first_now=False),
        ):
            self._tasks.append(asyncio.ensure_future(work))
        log.info(
            "probe worker %s: %d checks, reporting to %s",
            self.options.location,
            len(self.catalog.checks),
            self.client.core_url,
        )

    async def _shutdown(self) -> None:
        if self._scheduler is not None:
            await self._scheduler.shutdown(SHUTDOWN_GRACE_SECONDS)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.flush()
        try:  # what is left stays in the spool for the next start
            async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
                await self.push_once()
        except (CoreUnreachable, CoreRefused, TimeoutError):
            pass
        await self.probes.aclose()
        await self.client.close()

    # ---- the assignment ---------------------------------------------------------------------

    async def _first_assignment(self, stop: asyncio.Event) -> bool:
        """From the core; while it cannot be reached, the spool's copy; else wait for it."""
        delay = BACKOFF_FIRST_SECONDS
        while not stop.is_set():
            if await self.refresh_assignment():
                return True
            kept = self.spool.last_assignment()
            if kept is not None and self._adopt(kept):
                log.warning("probing with the last assignment kept (%s)", kept.version)
                return True
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, BACKOFF_LAST_SECONDS)
        return False

    async def refresh_assignment(self) -> bool:
        """Fetch the assignment; a new version replaces the running one. False: none fetched."""
        try:
            fetched = await self.client.assignment()
        except (CoreUnreachable, CoreRefused) as exc:
            self._core_failed(exc)
            return False
        if self.assignment is not None and fetched.version == self.assignment.version:
            return True
        if not self._adopt(fetched):
            return False
        self.spool.save_assignment(fetched)
        self._drop_unassigned()
        return True

    def _drop_unassigned(self) -> None:
        """The core refuses a whole batch holding a check not its location's: such results
        (of an older assignment) can never be sent, so they leave the spool, counted."""
        assigned = set(self.catalog.checks) if self.catalog else set()
        gone = self.spool.discard_checks_except(assigned)
        if gone:
            log.warning("%d spooled results of checks no longer assigned were dropped", gone)

    def _adopt(self, assignment: Assignment) -> bool:
        try:
            catalog = load_text(
                assignment.catalog, f"assignment of {assignment.location}", self.options.environ
            )
        except CatalogError as exc:
            log.error("the assignment %s cannot be used: %s", assignment.version, exc)
            return False
        target = assignment.connectivity_check
        self.connectivity.target = split_host_port(target) if target else None
        self.assignment, self.catalog = assignment, catalog
        self.metrics.checks.set(len(catalog.checks))
        if self._scheduler is not None:
            self._scheduler.sync(catalog)
            log.info("assignment %s: %d checks", assignment.version, len(catalog.checks))
        return True

    # ---- probing into the spool -------------------------------------------------------------

    async def _probe(self, check: Check, due: datetime) -> None:
        result = await run_probe(check.id, check.kind, check.spec, check.timeout, self.probes)
        self.metrics.probes.inc()
        if len(self._unspooled) >= MAX_UNSPOOLED:  # the spool has failed for a long while
            del self._unspooled[0]
        self._unspooled.append(_wire(self.connectivity.judge(result)))

    async def _flush_async(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Commit the results probed since the last flush to the spool."""
        if not self._unspooled:
            return
        try:
            self.spool.add_many(self._unspooled)
        except sqlite3.Error as exc:  # a full disk: keep them in memory and say so
            if not self.spool_error:
                log.error("the spool %s cannot be written: %s", self.spool.path, exc)
            self.spool_error = str(exc)
            return
        self._unspooled = []
        self.spool_error = ""

    async def _refresh_connectivity(self) -> None:
        await self.connectivity.refresh()
        self.metrics.blind.set(0 if self.connectivity.ok else 1)

    # ---- pushing ----------------------------------------------------------------------------

    async def _push_loop(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        while True:
            try:
                sent = await self.push_once()
            except CoreUnreachable as exc:
                self._core_failed(exc)
            except CoreRefused as exc:
                self._core_failed(exc)
                if await self._handle_refusal(exc):
                    continue
            else:
                delay = BACKOFF_FIRST_SECONDS
                if sent < self.batch_size:  # caught up: wait for new results
                    await asyncio.sleep(self.options.push_every)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_LAST_SECONDS)

    async def push_once(self) -> int:
        """Send the oldest spooled results (an empty batch says "alive"); delete what the core
        acknowledged. Returns how many results were sent."""
        self.flush()
        pending = self.spool.pending(self.batch_size)
        batch = ResultBatch(
            location=self.options.location,
            worker_clock=self.clock.now(),
            worker_version=build_version()[:64],
            blind="" if self.connectivity.ok else self.connectivity.reason[:MAX_REASON_CHARS],
            spool_depth=self.spool.depth(),
            results=pending.results,
            dropped=pending.dropped,
        )
        ack = await self.client.push(batch)
        self.spool.acknowledge(pending)
        self._core_answered(ack.accepted, ack.duplicates)
        return len(pending.results)

    def _core_answered(self, accepted: int, duplicates: int) -> None:
        if self.core_problem:
            log.warning("the core answers again; spool depth %d", self.spool.depth())
        self.core_problem, self.refusal = "", None
        self.last_ack = self.clock.now()
        self.metrics.pushed.labels("new").inc(accepted)
        self.metrics.pushed.labels("duplicate").inc(duplicates)
        self.metrics.last_ack.set(self.last_ack.timestamp())
        self.metrics.spool_depth.set(self.spool.depth())

    def _core_failed(self, exc: CoreUnreachable | CoreRefused) -> None:
        problem = str(exc)
        if problem != self.core_problem:  # once per change, not once per retry
            log.error("%s; probing goes on into the spool (depth %d)", problem, self.spool.depth())
        self.core_problem = problem
        reason = f"refused_{exc.status}" if isinstance(exc, CoreRefused) else "unreachable"
        self.refusal = exc if isinstance(exc, CoreRefused) else self.refusal
        self.metrics.push_failures.labels(reason).inc()
        self.metrics.spool_depth.set(self.spool.depth())

    async def _handle_refusal(self, exc: CoreRefused) -> bool:
        """Change what is sent so the next push can succeed. True: retry at once."""
        if exc.status in (413, 422):  # too big or not understood: find the results it refuses
            if self.batch_size > 1:
                self.batch_size = max(1, self.batch_size // 2)
                return True
            self._discard_refused()
            return True
        if exc.status == 403 and await self.refresh_assignment():  # a check no longer ours
            self._drop_unassigned()
            return True
        return False

    def _discard_refused(self) -> None:
        pending: Pending = self.spool.pending(1)
        for result in pending.results:
            log.error(
                "the core refuses the result %s at %s: dropped", result.check, result.started_at
            )
        self.spool.discard(pending)
        self.batch_size = self.options.batch_size

    # ---- health -----------------------------------------------------------------------------

    def health(self) -> dict[str, object]:
        reasons = []
        if self.catalog is None:
            reasons.append("no_assignment")
        if self.spool_error:
            reasons.append("spool_not_writing")
        if self.refusal is not None and self.refusal.status in (401, 403, 409):
            reasons.append("core_refuses" if self.refusal.status != 409 else "clock_refused")
        return {
            "healthy": not reasons,
            "reasons": reasons,
            "location": self.options.location,
            "core": self.client.core_url,
            "assignment": self.assignment.version if self.assignment else None,
            "checks": len(self.catalog.checks) if self.catalog else 0,
            "spool_depth": self.spool.depth(),
            "last_ack": self.last_ack.isoformat() if self.last_ack else None,
            "core_problem": self.core_problem,
            "blind": "" if self.connectivity.ok else self.connectivity.reason,
        }


def _wire(result: ProbeResult) -> WireResult:
    """The result as the wire carries it; what the wire cannot carry is cut, never the result."""
    try:
        return WireResult.of(replace(result, reason=result.reason[:MAX_REASON_CHARS]))
    except ValidationError:
        return WireResult.of(
            replace(result, reason=result.reason[:MAX_REASON_CHARS], measurements={})
        )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
