"""The alert state machine: each alert instance moves inactive -> pending -> firing -> resolved.

An active condition makes an alert pending; it fires once it has been active for the rule's
`for`; it notifies when it fires unless suppressed, and resolves (notifying only when it had
notified) when the condition stops, or, for change alerts, when their hold runs out. What an
alert is suppressed by is alerting/suppression.py; its labels are alerting/labels.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from agent.catalog.model import Check, Service
from agent.records import Incident, ServiceStatus
from alerting.conditions import Active
from alerting.notification import AlertStatus, Notification
from alerting.rules import Rule

# (rule, subject, now, active since) -> what suppresses the alert, or None
Suppress = Callable[[Rule, "Subject", datetime, datetime], str | None]
Label = Callable[["AlertState", Rule, "Subject"], None]  # sets the alert's labels, annotations
Outage = Callable[["AlertState"], tuple[datetime, datetime | None] | None]  # its incident


@dataclass
class AlertState:
    alert_id: str
    rule: str
    team: str
    service: str | None
    check: str | None
    active_since: datetime
    firing_since: datetime | None = None
    notified: bool = False
    suppressed: str | None = None  # maintenance | inhibited | flapping
    hold_until: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_comment: str = ""
    last_notified_at: datetime | None = None
    incident_id: int | None = None  # the outage behind a service alert, for its duration
    sequence: int = 0  # notifications made for this alert so far (their idempotency keys)

    @property
    def state(self) -> str:
        if self.firing_since is None:
            return "pending"
        return f"suppressed:{self.suppressed}" if self.suppressed else "firing"


@dataclass(frozen=True)
class Subject:
    alert_id: str
    service: Service | None
    check: Check | None
    status: ServiceStatus | None
    incident: Incident | None
    node: str | None = None  # a cluster node, the subject of ClusterNodeDown alone


class AlertMachine:
    """The active alerts, by id, and the moves between their states."""

    def __init__(self, suppress: Suppress, label: Label, outage: Outage) -> None:
        self.alerts: dict[str, AlertState] = {}
        self._suppress = suppress
        self._label = label
        self._outage = outage

    def update(
        self, rule: Rule, subject: Subject, active: Active, now: datetime
    ) -> list[Notification]:
        alert = self.alerts.get(subject.alert_id)
        if active.active and rule.when == "changed":
            hold = now + timedelta(seconds=rule.hold)
            alert = alert or self._new(rule, subject, now)
            alert.hold_until = hold
        if not active.active:
            if alert is None or (alert.hold_until is not None and alert.hold_until > now):
                return []
            return self._resolve(alert, now)
        alert = alert or self._new(rule, subject, now)
        alert.values = active.values
        if subject.incident is not None:
            alert.incident_id = subject.incident.id
        alert.suppressed = self._suppress(rule, subject, now, alert.active_since)
        self._label(alert, rule, subject)
        if alert.firing_since is None and (now - alert.active_since).total_seconds() >= rule.for_:
            alert.firing_since = now
        return self._notify_if_due(alert, now)

    def _new(self, rule: Rule, subject: Subject, now: datetime) -> AlertState:
        alert = AlertState(
            alert_id=subject.alert_id,
            rule=rule.name,
            team=rule.team,
            service=subject.service.id if subject.service else None,
            check=subject.check.id if subject.check else None,
            active_since=now,
        )
        self.alerts[alert.alert_id] = alert
        return alert

    def _notify_if_due(self, alert: AlertState, now: datetime) -> list[Notification]:
        if alert.firing_since is None or alert.suppressed or alert.notified:
            return []
        alert.notified, alert.last_notified_at = True, now
        return [self._next(alert, AlertStatus.FIRING, None)]

    def _resolve(self, alert: AlertState, now: datetime) -> list[Notification]:
        del self.alerts[alert.alert_id]
        if not alert.notified:
            return []  # never told anyone it fired: nothing to resolve
        return [self._next(alert, AlertStatus.RESOLVED, now)]

    def expire_holds(self, now: datetime) -> list[Notification]:
        out: list[Notification] = []
        for alert in list(self.alerts.values()):
            if alert.hold_until is not None and alert.hold_until <= now:
                out += self._resolve(alert, now)
        return out

    def acknowledge(self, alert_id: str, author: str, comment: str, at: datetime) -> bool:
        """Stops reminders for this alert; it is still recorded and still resolves."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            return False
        alert.acked_by, alert.acked_at, alert.ack_comment = author, at, comment
        return True

    def reminders_due(self, now: datetime, every: float) -> list[Notification]:
        """Firing, unacknowledged alerts not notified for `every` seconds: notify them again.
        An acknowledgement stops these reminders; the alert is still recorded and resolves."""
        due: list[Notification] = []
        for alert in self.alerts.values():
            if not alert.notified or alert.suppressed or alert.acked_by is not None:
                continue
            last = alert.last_notified_at or alert.active_since
            if (now - last).total_seconds() >= every:
                alert.last_notified_at = now
                note = self._next(alert, AlertStatus.FIRING, None)
                due.append(replace(note, extra={"reminder": "true"}))
        return due

    def firing_notifications(self) -> list[Notification]:
        """Every notified, still-firing alert: what the Alertmanager resend protocol repeats."""
        return [
            self._notification(a, AlertStatus.FIRING, None)
            for a in self.alerts.values()
            if a.notified and not a.suppressed
        ]

    def drop(self, alert_ids: Iterable[str]) -> None:
        """Forget these alerts without resolving them (another node carries them on, or their
        rule is gone: no resolve storm)."""
        for alert_id in list(alert_ids):
            self.alerts.pop(alert_id, None)

    def _next(self, alert: AlertState, status: AlertStatus, ended: datetime | None) -> Notification:
        """A new notification of `alert` (not a resend of the last one): the next sequence."""
        alert.sequence += 1
        return self._notification(alert, status, ended)

    def _notification(
        self, alert: AlertState, status: AlertStatus, ended: datetime | None
    ) -> Notification:
        return Notification(
            alert_id=alert.alert_id,
            status=status,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.active_since,
            ends_at=ended,
            generator_url=alert.annotations.get("console_url", ""),
            duration_seconds=self._outage_seconds(alert, ended),
            sequence=alert.sequence,
        )

    def _outage_seconds(self, alert: AlertState, ended: datetime | None) -> float | None:
        """Resolved notifications carry the outage duration: the incident's, when there is one."""
        if ended is None:
            return None
        known = self._outage(alert)
        if known is not None and known[1] is not None:
            return (known[1] - known[0]).total_seconds()
        return (ended - alert.active_since).total_seconds()
