"""What the outbox delivers: one alert state (firing or resolved) for one receiver.

Shaped after Alertmanager's v2 `postableAlert` so the Alertmanager receiver is a thin mapping,
and every other receiver (webhook, e-mail, syslog) renders the same fields.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


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

    @property
    def team(self) -> str:
        return self.labels.get("team", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")
