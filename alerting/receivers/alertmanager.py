"""Alertmanager v2: `POST /api/v2/alerts` with a list of postable alerts.

One receiver per Alertmanager URL (the factory fans a configured list out), so every
Alertmanager of a cluster gets every alert independently, as Prometheus does; Alertmanager
itself deduplicates across its peers.

A firing alert is sent with `endsAt` = now + `firing_ttl`: Alertmanager keeps it active that
long, so the agent must resend firing alerts more often than that (Prometheus uses 4 x its
resend delay); a resolved one carries its real end. Several states of one alert in a batch are
posted in successive requests, oldest first, because Alertmanager merges alerts of one label
set within a request in no promised order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alerting.notification import AlertStatus, Notification
from alerting.receivers import _http


class AlertmanagerReceiver:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        firing_ttl: float = 240.0,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self._ttl = timedelta(seconds=firing_ttl)
        self._client = client or _http.new_client(timeout)
        self._now = now

    def __repr__(self) -> str:
        return f"AlertmanagerReceiver({self.name!r}, {self.url!r})"

    async def send(self, notifications: Sequence[Notification]) -> None:
        now = self._now()
        for part in _rounds(notifications):
            body = json.dumps([self.postable(n, now) for n in part]).encode()
            headers = {"Content-Type": "application/json"}
            await _http.post(self._client, self.name, self.url, body, headers)

    def postable(self, notification: Notification, now: datetime) -> dict[str, Any]:
        """The `postableAlert` of the Alertmanager v2 API."""
        resolved = notification.status is AlertStatus.RESOLVED
        ends = (notification.ends_at or now) if resolved else now + self._ttl
        alert: dict[str, Any] = {
            # Alertmanager drops empty label values anyway; an empty one would only confuse
            "labels": {k: v for k, v in notification.labels.items() if v},
            "annotations": {k: v for k, v in notification.annotations.items() if v},
            "startsAt": _rfc3339(notification.starts_at),
            "endsAt": _rfc3339(max(ends, notification.starts_at)),
        }
        if notification.generator_url:
            alert["generatorURL"] = notification.generator_url
        return alert

    async def aclose(self) -> None:
        await self._client.aclose()


def _rounds(notifications: Sequence[Notification]) -> list[list[Notification]]:
    """Split into requests holding each alert at most once, keeping the order of each alert."""
    rounds: list[list[Notification]] = []
    seen: dict[str, int] = {}  # alert id -> how many rounds already hold it
    for notification in notifications:
        index = seen.get(notification.alert_id, 0)
        seen[notification.alert_id] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(notification)
    return rounds


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
