"""Alerting inside the running agent: evaluator -> router -> outbox -> delivery worker.

Notifications are written to the outbox (in the store) before any delivery is tried, so a dead
receiver delays them and a restart does not lose them. Alertmanager receivers also get the
resend protocol Prometheus uses: every firing alert again each `resend_every`, and resolved
alerts for `resolved_resend` after they resolved, so a restarted Alertmanager catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from agent.records import Effect
from alerting import alert_store
from alerting.conditions import is_cluster_alert
from alerting.database import Database
from alerting.delivery import DeliveryWorker
from alerting.evaluator import AlertEvaluator
from alerting.notification import AlertStatus, Notification
from alerting.outbox import Also, Outbox, OutboxItem, Partitioning
from alerting.ownership import Ownership, PartitionsLost
from alerting.receivers.factory import build_receivers
from alerting.routing import AlertingConfig, Router
from checks.clock import Clock
from checks.periodic import every
from checks.result import ProbeResult

log = logging.getLogger(__name__)


def _service_of(alert_id: str) -> str | None:
    """The service of an alert id (`Rule/service` or `Rule/service/check`); None for the
    agent's own alerts (`Rule`) and the cluster's (`Rule@subject`)."""
    if is_cluster_alert(alert_id):
        return None
    parts = alert_id.split("/")
    return parts[1] if len(parts) > 1 else None


# The cluster's own alerts (ClusterNodeDown, PartitionUnowned) belong to partition 0: its holder
# judges them, stores them, sends them; a new holder carries them on (semantics.md §9).
CLUSTER_PARTITION = 0


@dataclass
class AlertingService:
    evaluator: AlertEvaluator
    store: Database
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
    # several core nodes (semantics.md §9): only a partition's owner notifies its alerts
    cluster: Ownership | None = None

    async def start(self) -> None:
        if self.cluster is None:
            restored = await asyncio.to_thread(alert_store.load_alerts, self.store)
            self.evaluator.alerts = {a.alert_id: a for a in restored}
        else:  # a cluster node reads each partition's alerts when it claims the partition
            self.evaluator.alerts = {}
        self.router = Router(self.config)
        self.outbox = Outbox(self.store)
        if self.cluster is not None:
            self.outbox.partitioning = Partitioning(
                self._partition_of_notification, self.cluster.fence, self._scope
            )
        self.worker = DeliveryWorker(
            self.outbox, build_receivers(self.config), self.clock,
            on_permanent_failure=self._permanent,
        )  # fmt: skip
        self.permanent_failures = 0
        self.worker.start()
        self._tasks = [
            asyncio.ensure_future(every(self.flush_every, self.flush, first_now=False)),
            asyncio.ensure_future(every(self.tick_every, self.tick, first_now=False)),
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
            await self._enqueue(resends)
        await self._save_alerts()
        self.backlog = await asyncio.to_thread(self.outbox.backlog)

    async def flush(self) -> None:
        """Write pending notifications to the outbox, then wake the worker."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        batch = self._held(batch)
        try:
            await self._enqueue(self.router.route(batch))
        except Exception:  # the store failed: these are sent at the next flush, not lost
            self._pending = batch + self._pending
            raise
        self._resolved += [n for n in batch if n.status is AlertStatus.RESOLVED]

    async def _enqueue(self, routed: list[tuple[Notification, Sequence[str]]]) -> None:
        """Store the notifications with the alerts' state in one transaction (fenced on a
        cluster node), then wake the worker: whoever reads the state next (a restart, a new
        owner) knows what was notified, so it neither repeats nor loses a notification."""
        gone: set[int] = set()
        while routed:
            now = self.clock.now()
            try:
                # the state of just these alerts: the notifications' partitions are fenced
                touched = {n.alert_id for n, _ in routed}
                _, write = self._alert_writer(now, gone, touched)
                also: Also = (set(), write)
                await asyncio.to_thread(self.outbox.enqueue_routed, routed, now, also=also)
                break
            except PartitionsLost as lost:  # the new owner notifies these services now
                gone |= set(lost.partitions)
                routed = [r for r in routed if self._partition_of_notification(r[0]) not in gone]
                log.warning("notifications of partitions %s left to their new owner", sorted(gone))
        self.worker.wake()

    def _alert_writer(
        self, now: datetime, gone: Iterable[int] = (), only: set[str] | None = None
    ) -> Also:
        """The partitions whose alerts this node rewrites (those it owns) and the writing
        (of every alert, or `only` of these)."""
        alerts = list(self.evaluator.alerts.values())
        owned: set[int] = set()
        partitions: alert_store.Partitions | None = None
        if self.cluster is not None:
            owned = self.cluster.owned() - set(gone)
            partitions = (owned, self._partition_of_alert)

        def write(conn: Connection) -> None:
            alert_store.write_alerts(conn, alerts, now, partitions, only)

        return owned, write

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
        ids = [a.id for a in acks if self._mine(a.alert_id)]
        await asyncio.to_thread(alert_store.mark_applied, self.store, ids, self.clock.now())

    async def _save_alerts(self) -> None:
        owned, write = self._alert_writer(self.clock.now())

        def fenced() -> None:
            with self.store.transaction(write=True) as conn:
                if self.cluster is not None:
                    self.cluster.fence(conn, owned)
                write(conn)

        try:
            await asyncio.to_thread(fenced)
        except PartitionsLost as lost:  # saved by the new owner; this node forgets them soon
            log.warning("alerts of partitions %s left to their new owner", lost.partitions)

    # ---- several core nodes (semantics.md §9) -----------------------------------------------

    async def adopt(self, partitions: set[int], services: Iterable[str]) -> None:
        """Partitions just claimed: their active alerts continue here, and what is firing is
        sent again to Alertmanager, which merges it into the same alert (its labels never name
        a node), so a notification the old owner had not delivered yet is not lost."""
        restored = await asyncio.to_thread(alert_store.load_alerts, self.store, partitions)
        wanted = set(services)
        judge = CLUSTER_PARTITION in partitions  # this node judges the cluster rules now
        alerts = {
            a.alert_id: a
            for a in restored
            if a.service in wanted or (judge and is_cluster_alert(a.alert_id))
        }
        self.evaluator.alerts.update(alerts)
        firing = [n for n in self.evaluator.firing_notifications() if n.alert_id in alerts]
        if firing:
            await self._enqueue(self.router.route(firing, resend=True))

    def forget(self, partitions: set[int], services: Iterable[str]) -> None:
        gone = set(services)
        self.evaluator.forget(gone)
        self._resolved = [n for n in self._resolved if _service_of(n.alert_id) not in gone]
        if CLUSTER_PARTITION in partitions:
            self.evaluator.forget_cluster()
            self._resolved = [n for n in self._resolved if not is_cluster_alert(n.alert_id)]

    def _held(self, batch: list[Notification]) -> list[Notification]:
        if self.cluster is None:
            return batch
        return [n for n in batch if self._mine(n.alert_id, held=True)]

    def _mine(self, alert_id: str, held: bool = False) -> bool:
        """An alert of this node's partitions (or of no partition); `held`: by the lease alone."""
        cluster = self.cluster
        partition = self._partition_of_alert(alert_id)
        if cluster is None or partition is None:
            return True
        if held:
            return cluster.holds(partition)
        return partition in cluster.owned()

    def _partition_of_alert(self, alert_id: str) -> int | None:
        """A service alert's partition is its service's; the cluster's alerts are partition
        0's; the agent's own alerts (each node judges its own health) have none."""
        if self.cluster is None:
            return None
        if is_cluster_alert(alert_id):
            return CLUSTER_PARTITION
        service = _service_of(alert_id)
        return None if service is None else self.cluster.partition_of(service)

    def _partition_of_notification(self, notification: Notification) -> int | None:
        return self._partition_of_alert(notification.alert_id)

    def _scope(self) -> tuple[set[int], bool]:
        """The rows this node sends: its partitions'; the agent's own alerts (no partition)
        are sent by the holder of partition 0, so that exactly one node sends each."""
        assert self.cluster is not None
        held = self.cluster.held()
        return held, CLUSTER_PARTITION in held

    def _permanent(self, item: OutboxItem) -> None:
        self.permanent_failures += 1
        log.error(
            "receiver %s refused %s for good: %s", item.receiver, item.alert_id, item.last_error
        )

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.flush()
            await self._save_alerts()
        finally:
            await self.worker.aclose()
