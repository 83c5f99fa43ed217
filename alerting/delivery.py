"""The delivery worker: takes due rows from the outbox and hands them to their receivers.

Rows are grouped per receiver and each receiver gets its own task, so a receiver that hangs
until its timeout delays only its own rows; while its batch is in flight, the next rounds skip
that receiver and keep serving the others. A transient failure (or any unexpected exception: a
bug must not drop alerts) backs the rows off in the outbox; a permanent one marks them failed
and calls `on_permanent_failure` for each, so the agent can raise a self-health alert. When a
batch of several is refused permanently, its rows are retried one by one, so one bad
notification does not take the others down with it.

`run_once` delivers everything due now and returns; the background loop started by `start`
calls the same code every `poll` seconds, or at once after `wake()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.outbox import Outbox, OutboxItem, OutboxState
from alerting.receivers.base import Receiver
from checks.clock import Clock
from checks.secrets import SECRETS

log = logging.getLogger(__name__)

PermanentFailureHook = Callable[[OutboxItem], None]


class DeliveryWorker:
    """Owns the receivers it is given: `aclose` closes them."""

    def __init__(
        self,
        outbox: Outbox,
        receivers: Mapping[str, Receiver],
        clock: Clock,
        *,
        poll: float = 0.5,
        batch: int = 100,
        on_permanent_failure: PermanentFailureHook | None = None,
    ) -> None:
        self._outbox = outbox
        self._receivers = dict(receivers)
        self._clock = clock
        self._poll = poll
        self._batch = batch
        self.on_permanent_failure = on_permanent_failure
        self._inflight: dict[str, asyncio.Task[int]] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        # per receiver; totals below
        self.delivered: Counter[str] = Counter()  # rows accepted
        self.failed: Counter[str] = Counter()  # rows failed for good
        self.transient_errors: Counter[str] = Counter()  # send attempts that failed transiently

    @property
    def delivered_total(self) -> int:
        return self.delivered.total()

    @property
    def failed_total(self) -> int:
        return self.failed.total()

    @property
    def transient_errors_total(self) -> int:
        return self.transient_errors.total()

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="alert-delivery")

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll (call it after an enqueue)."""
        self._wake.set()

    async def aclose(self) -> None:
        """Stop taking rows, let the batches in flight finish, then close the receivers."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        for receiver in self._receivers.values():
            try:
                await receiver.aclose()
            except Exception:
                log.exception("closing alert receiver %s failed", receiver.name)

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                full = await self._dispatch()
            except Exception:  # the store is down, say: keep the loop, try again later
                log.exception("alert delivery round failed")
                full = False
            if full:
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()), *self._inflight.values()]
            await asyncio.wait(waiters, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
            waiters[0].cancel()

    async def _dispatch(self) -> bool:
        """Start a task per idle receiver with due rows; True when the fetch hit the limit."""
        items = await asyncio.to_thread(
            self._outbox.due, self._clock.now(), self._batch, skip_receivers=set(self._inflight)
        )
        for receiver, group in _by_receiver(items).items():
            task = asyncio.get_running_loop().create_task(self._deliver(receiver, group))
            self._inflight[receiver] = task
            task.add_done_callback(functools.partial(self._done, receiver))
        return len(items) >= self._batch

    def _done(self, receiver: str, task: asyncio.Task[int]) -> None:
        self._inflight.pop(receiver, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # e.g. the store refused the mark: the rows stay pending and are offered again
            text = SECRETS.mask(f"{type(exc).__name__}: {exc}")
            log.error("delivery to %s failed: %s", receiver, text)

    # ---- one round --------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Deliver everything due now (receivers already busy in the background are left to
        their task); returns how many rows were delivered."""
        delivered = 0
        while True:
            items = await asyncio.to_thread(
                self._outbox.due, self._clock.now(), self._batch, skip_receivers=set(self._inflight)
            )
            if not items:
                return delivered
            groups = _by_receiver(items).items()
            counts = await asyncio.gather(*(self._deliver(r, g) for r, g in groups))
            delivered += sum(counts)

    async def _deliver(self, name: str, items: Sequence[OutboxItem]) -> int:
        receiver = self._receivers.get(name)
        if receiver is None:
            error = f"receiver {name!r} is not configured (any more)"
            await self._permanent(name, items, error)
            return 0
        try:
            await receiver.send([item.notification for item in items])
        except PermanentDeliveryError as exc:
            if len(items) > 1:
                return await self._one_by_one(name, items)
            await self._permanent(name, items, str(exc))
            return 0
        except TransientDeliveryError as exc:
            await self._transient(name, items, str(exc))
            return 0
        except Exception as exc:  # a receiver bug: keep the rows rather than lose alerts
            log.exception("alert receiver %s raised an unexpected error", name)
            await self._transient(name, items, f"{type(exc).__name__}: {exc}")
            return 0
        ids = [item.id for item in items]
        await asyncio.to_thread(self._outbox.mark_delivered, ids, self._clock.now())
        self.delivered[name] += len(items)
        return len(items)

    async def _one_by_one(self, name: str, items: Sequence[OutboxItem]) -> int:
        delivered = 0
        for item in items:
            delivered += await self._deliver(name, [item])
        return delivered

    async def _transient(self, name: str, items: Sequence[OutboxItem], error: str) -> None:
        error = SECRETS.mask(error)  # the log, the outbox row and the API all read this text
        log.warning("delivery of %d alert(s) to %s failed, will retry: %s", len(items), name, error)
        ids = [item.id for item in items]
        await asyncio.to_thread(self._outbox.mark_transient, ids, error, self._clock.now())
        self.transient_errors[name] += 1

    async def _permanent(self, name: str, items: Sequence[OutboxItem], error: str) -> None:
        error = SECRETS.mask(error)
        log.error("delivery of %d alert(s) to %s failed for good: %s", len(items), name, error)
        ids = [item.id for item in items]
        await asyncio.to_thread(self._outbox.mark_permanent, ids, error, self._clock.now())
        self.failed[name] += len(items)
        if self.on_permanent_failure is None:
            return
        now = self._clock.now()
        for item in items:
            failed = dataclasses.replace(
                item,
                state=OutboxState.FAILED,
                attempts=item.attempts + 1,
                last_error=error,
                last_attempt_at=now,
            )
            try:
                self.on_permanent_failure(failed)
            except Exception:
                log.exception("on_permanent_failure hook failed for outbox row %d", item.id)


def _by_receiver(items: Sequence[OutboxItem]) -> dict[str, list[OutboxItem]]:
    groups: dict[str, list[OutboxItem]] = {}
    for item in items:  # `due` returns them oldest first; each group keeps that order
        groups.setdefault(item.receiver, []).append(item)
    return groups
