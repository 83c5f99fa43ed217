"""Alerting inside the running agent: evaluator -> router -> outbox -> delivery worker.

Notifications are written to the outbox (in the store) before any delivery is tried, so a dead
receiver delays them and a restart does not lose them. Alertmanager receivers also get the
resend protocol Prometheus uses: every firing alert again each `resend_every`, and resolved
alerts for `resolved_resend` after they resolved, so a restarted Alertmanager catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.records import Effect
from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.delivery import DeliveryWorker
from alerting.evaluator import AlertEvaluator
from alerting.notification import AlertStatus, Notification
from alerting.outbox import Outbox, OutboxItem
from alerting.receivers.factory import build_receivers
from alerting.routing import AlertingConfig, Router
from checks.clock import Clock
from checks.result import ProbeResult

log = logging.getLogger(__name__)


@dataclass
class AlertingService:
    evaluator: AlertEvaluator
    store: SqlStore
    config: AlertingConfig
    clock: Clock
    resend_every: float = 60.0
    resolved_resend: float = 900.0
    flush_every: float = 0.5
    tick_every: float = 5.0
    remind_every: float = 4 * 3600.0  # reminders of firing, unacknowledged alerts
    backlog: int = 0
    _pending: list[Notification] = field(default_factory=list)
    _resolved: list[Notification] = field(default_factory=list)
    _last_resend: datetime | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        restored = await asyncio.to_thread(alert_store.load_alerts, self.store)
        self.evaluator.alerts = {a.alert_id: a for a in restored}
        self.router = Router(self.config)
        self.outbox = Outbox(self.store)
        self.worker = DeliveryWorker(
            self.outbox, build_receivers(self.config), self.clock,
            on_permanent_failure=self._permanent,
        )  # fmt: skip
        self.permanent_failures = 0
        self.worker.start()
        self._tasks = [
            asyncio.ensure_future(self._loop(self.flush_every, self.flush)),
            asyncio.ensure_future(self._loop(self.tick_every, self.tick)),
        ]

    def observe(self, result: ProbeResult, effects: Iterable[Effect]) -> None:
        """Called on the loop after the engine saw a result: cheap, no I/O."""
        self._pending += self.evaluator.observe(result, effects)

    async def tick(self) -> None:
        self._pending += self.evaluator.tick()
        await self._apply_acks()
        self._pending += [
            n
            for n in self.evaluator.reminders_due(self.remind_every)
            if n.labels.get("alertname") != "Watchdog"
        ]
        await self.flush()
        resends = self._resends_due()
        if resends:
            await asyncio.to_thread(self.outbox.enqueue_routed, resends, self.clock.now())
            self.worker.wake()
        await self._save_alerts()
        self.backlog = await asyncio.to_thread(self.outbox.backlog)

    async def flush(self) -> None:
        """Write pending notifications to the outbox, then wake the worker."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._resolved += [n for n in batch if n.status is AlertStatus.RESOLVED]
        await asyncio.to_thread(
            self.outbox.enqueue_routed, self.router.route(batch), self.clock.now()
        )
        self.worker.wake()

    def _resends_due(self) -> list[tuple[Notification, Sequence[str]]]:
        """The Alertmanager resend protocol: firing alerts again, resolved ones for a while."""
        now = self.clock.now()
        if self._last_resend and (now - self._last_resend).total_seconds() < self.resend_every:
            return []
        self._last_resend = now
        horizon = now - timedelta(seconds=self.resolved_resend)
        self._resolved = [n for n in self._resolved if n.ends_at and n.ends_at > horizon]
        resends = self.evaluator.firing_notifications() + self._resolved
        return self.router.route(resends, resend=True) if resends else []

    async def _apply_acks(self) -> None:
        acks = await asyncio.to_thread(alert_store.pending_acks, self.store)
        if not acks:
            return
        for ack in acks:
            if not self.evaluator.acknowledge(
                ack.alert_id, ack.author, ack.comment, ack.created_at
            ):
                log.info("acknowledgement of %s: no such active alert", ack.alert_id)
        ids = [a.id for a in acks]
        await asyncio.to_thread(alert_store.mark_applied, self.store, ids, self.clock.now())

    async def _save_alerts(self) -> None:
        alerts = list(self.evaluator.alerts.values())
        await asyncio.to_thread(alert_store.save_alerts, self.store, alerts, self.clock.now())

    def _permanent(self, item: OutboxItem) -> None:
        self.permanent_failures += 1
        log.error(
            "receiver %s refused %s for good: %s", item.receiver, item.alert_id, item.last_error
        )

    async def _loop(self, every: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await action()
            except Exception:
                log.exception("alerting %s failed", getattr(action, "__name__", action))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.flush()
            await self._save_alerts()
        finally:
            await self.worker.aclose()
