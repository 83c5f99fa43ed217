"""The single store writer: one asyncio task that commits engine effects in batches.

The engine never waits for the database: `submit` only queues. The task gathers whatever is
queued (up to `max_batch` effects, after a short linger so a burst becomes one transaction)
and runs `store.apply` in a thread. A batch that failed for the database's sake (it is away,
locked, its disk full) is retried, with backoff, until it commits: an outage delays the records
but loses none. A batch the database refused for its data (a value no cleaning could make
storable) fails the same way every time, so it is split until the submissions it refused are
found; those go to the quarantine table with the error, and everything else is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from agent.cluster.errors import LeaseLostError
from agent.records import Effect, PendingConsumed, ResultPending, ResultRecorded
from agent.store.base import Store
from agent.store.errors import WriterClosedError

log = logging.getLogger(__name__)

Submission = tuple[Effect, ...]


class BatchFence(Protocol):
    """Several core nodes (agent/cluster/fencing.py): the check a batch's transaction runs
    first, and which partitions a submission touches."""

    def fence_for(self, effects: Iterable[Effect]) -> Callable[[Connection], None]: ...

    def partitions_of(self, effects: Iterable[Effect]) -> set[int]: ...

    def partition_of(self, service: str) -> int: ...


def refused_as_data(exc: Exception) -> bool:
    """The database (or a column's conversion) refused a value: retrying cannot help."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return True  # a bind conversion failed before the database saw the statement
    return isinstance(exc, ValueError | TypeError)


RETRY_MAX = 30.0  # seconds: the longest wait between two failed commits (single node)


class StoreWriter:
    """Owns the effect queue; the only code that calls `store.apply` while the agent runs."""

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 2000,
        linger: float = 0.2,
        retry_initial: float = 0.5,
        retry_max: float = RETRY_MAX,
        fencing: BatchFence | None = None,
    ) -> None:
        self._store = store
        self._fencing = fencing
        self.fenced_total = 0  # effects dropped: their partition is another node's now
        self._max_batch = max_batch
        # A transaction has a fixed cost (BEGIN, COMMIT, WAL frames), so per result a batch of
        # ~70 results costs about half what one of ~10 does (store writes at 10,000 services,
        # bench/RESULTS.md "Session 3"); 0.2 s more before a result is durable is the price.
        self._linger = linger
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        # Whole submissions are queued, never split, so the effects of one engine step are
        # committed together (a crash cannot leave a result stored without its status).
        self._queue: deque[tuple[Effect, ...]] = deque()
        self._wake = asyncio.Event()  # something was queued
        self._hurry = asyncio.Event()  # drain or close: skip the linger
        self._idle = asyncio.Event()  # nothing queued, nothing in flight
        self._idle.set()
        # Submissions are committed in order: a drain waits for the count submitted when it
        # was called, not for an idle writer, which under a steady inflow (probe workers'
        # batches, each acknowledged after its drain) may not come for many batches.
        self._submitted = 0
        self._committed = 0
        self._drains: list[tuple[int, asyncio.Future[None]]] = []
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.depth = 0  # effects submitted and not yet committed (queued or in flight)
        self.batches_total = 0
        self.errors_total = 0
        self.quarantined_total = 0  # effects the database refused as data
        self.last_write_seconds = 0.0
        # the class of the last failed commit, "" once one succeeds (agent health reads it;
        # only the class: a driver's message may name the database URL)
        self.last_error = ""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="store-writer")

    async def __aenter__(self) -> StoreWriter:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def submit(self, effects: Sequence[Effect]) -> None:
        """Queue effects for the next batch; never blocks, never drops."""
        if self._closing:
            raise WriterClosedError(f"store writer is closed; {len(effects)} effects refused")
        if not effects:
            return
        self._queue.append(tuple(effects))
        self._submitted += 1
        self.depth += len(effects)
        self._idle.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Return once everything submitted so far is committed (not what comes after)."""
        self.start()
        if self._committed >= self._submitted:
            return
        self._hurry.set()
        done = asyncio.get_running_loop().create_future()
        self._drains.append((self._submitted, done))
        await done

    async def aclose(self) -> None:
        """Commit everything queued, then stop the task."""
        self._closing = True
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._hurry.is_set() and self.depth < self._max_batch:
                with contextlib.suppress(TimeoutError):  # not wait_for: see checks.periodic._pause
                    async with asyncio.timeout(self._linger):
                        await self._hurry.wait()
            batch = self._take()
            await self._commit(batch)
            self.depth -= sum(len(submission) for submission in batch)
            self._committed += len(batch)
            self._wake_drains()
            if not self._queue:
                self._wake.clear()
                self._hurry.clear()
                self._idle.set()

    def _wake_drains(self) -> None:
        waiting = []
        for target, done in self._drains:
            if target <= self._committed:
                if not done.done():
                    done.set_result(None)
            else:
                waiting.append((target, done))
        self._drains = waiting
        if waiting:
            self._hurry.set()  # a drain still waits: no linger for its batch

    def _take(self) -> list[Submission]:
        batch = [self._queue.popleft()]
        size = len(batch[0])
        while self._queue and size + len(self._queue[0]) <= self._max_batch:
            size += len(self._queue[0])
            batch.append(self._queue.popleft())
        return batch

    async def _commit(self, batch: list[Submission]) -> None:
        delay = self._retry_initial
        while True:
            started = time.perf_counter()
            try:
                await self._apply(batch)
            except LeaseLostError as lost:  # final: the new owner continues these services
                batch = self._without(batch, set(lost.partitions))
                if not batch:
                    return
                continue
            except Exception as exc:  # any failure: keep the batch, never drop records
                if refused_as_data(exc):
                    await self._isolate(batch, exc)
                    return
                self.errors_total += 1
                self.last_error = type(exc).__name__
                log.warning(
                    "store write of %d effects failed (%s: %s); retrying in %.2f s",
                    len(batch),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self.last_write_seconds = time.perf_counter() - started
            self.last_error = ""
            self.batches_total += 1
            return

    async def _apply(self, batch: list[Submission]) -> None:
        effects = [effect for submission in batch for effect in submission]
        if self._fencing is None:
            await asyncio.to_thread(self._store.apply, effects)
            return
        fence = self._fencing.fence_for(effects)
        await asyncio.to_thread(self._store.apply, effects, fence)

    def _without(self, batch: list[Submission], lost: set[int]) -> list[Submission]:
        """`batch` without what it would have written for the `lost` partitions: those are
        another node's now, and it continues them from the database. Their raw results are
        not lost: they are kept for the new owner (`ResultPending`, semantics.md §9), unless
        they came from the database's pending results already (`PendingConsumed`), which
        stay there untouched."""
        assert self._fencing is not None
        kept: list[Submission] = []
        dropped = 0
        for submission in batch:
            if not self._fencing.partitions_of(submission) & lost:
                kept.append(submission)
                continue
            dropped += len(submission)
            if any(isinstance(e, PendingConsumed) for e in submission):
                continue
            pending = tuple(
                ResultPending(e.result, e.location, self._fencing.partition_of(e.result.service))
                for e in submission
                if isinstance(e, ResultRecorded)
            )
            if pending:
                kept.append(pending)
        self.fenced_total += dropped
        log.warning(
            "partitions %s are no longer held: %d effects not written, their results kept "
            "for the new owner",
            sorted(lost),
            dropped,
        )
        return kept

    async def _isolate(self, batch: list[Submission], exc: Exception) -> None:
        """Write every submission of `batch` the database takes; quarantine the ones it refuses
        (halving: a few bad records in a batch of n cost O(log n) transactions each)."""
        if len(batch) == 1:
            await self._quarantine(batch[0], exc)
            return
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            try:
                await self._apply(half)
            except Exception as again:
                if not refused_as_data(again):
                    await self._commit(half)  # the database went away meanwhile: retry it
                else:
                    await self._isolate(half, again)

    async def _quarantine(self, submission: Submission, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        log.error(
            "the database refused %d effects (%s); they are kept in the quarantine table",
            len(submission),
            error[:500],
        )
        self.quarantined_total += len(submission)
        try:
            now = datetime.now(UTC)
            await asyncio.to_thread(self._store.quarantine, submission, error, now)
        except Exception as failed:  # even the quarantine refused: the log line is the record
            log.error("quarantine write failed too (%s: %s)", type(failed).__name__, failed)
