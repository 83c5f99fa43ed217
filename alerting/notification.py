"""What the outbox delivers: one alert state (firing or resolved) for one receiver.

Shaped after Alertmanager's v2 `postableAlert` so the Alertmanager receiver is a thin mapping,
and every other receiver (webhook, e-mail, syslog) renders the same fields.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Notification:
    alert_id: str  # stable id of the alert instance: rule name + identifying labels
    status: AlertStatus
    labels: dict[str, str]  # alertname, service, tier, macro_service, team, severity, ...
    annotations: dict[str, str]  # summary, description, runbook_url, console_url
    starts_at: datetime  # timezone-aware UTC
    ends_at: datetime | None = None  # set when resolved
    generator_url: str = ""  # link to the console/incident
    duration_seconds: float | None = None  # outage duration, on resolved notifications
    extra: dict[str, str] = field(default_factory=dict)
    # the how-manieth notification of this alert instance (1: its first firing; reminders and
    # the resolution count on); 0 in rows stored before it existed
    sequence: int = 0

    @property
    def idempotency_key(self) -> str:
        """The same for every delivery of this notification, whichever node repeats it, and
        different for any other (another state, a reminder, a later outage of the same alert):
        delivery is at least once, and a receiver drops what it has seen by this key."""
        starts = self.starts_at.astimezone(UTC).isoformat()
        basis = "\0".join((self.alert_id, starts, self.status.value, str(self.sequence)))
        return hashlib.sha256(basis.encode()).hexdigest()[:32]

    @property
    def team(self) -> str:
        return self.labels.get("team", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")
