"""Webhook: a JSON POST of the notifications, signed with HMAC-SHA256 when a secret is set.

    POST <url>
    Content-Type: application/json
    X-Vigia-Timestamp: 1718000000          (Unix seconds; also `sent_at` inside the body)
    X-Vigia-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

    {"version": "1", "receiver": "...", "sent_at": "2024-06-10T06:13:20+00:00",
     "notifications": [{"alert_id": ..., "status": "firing", "labels": {...}, ...,
                        "sequence": 1, "idempotency_key": "3f1c..."}]}

The signature covers the raw body, which holds `sent_at`, so a receiver can refuse replays by
age after checking the signature. Delivery is at least once: a notification may arrive twice
(a node died between the receiver's answer and recording it, and another node repeated it);
every delivery of one notification has the same `idempotency_key` (from the alert id, its
start, the status and the alert's notification `sequence`), so the receiver drops a key it
has seen. A reminder or a later outage of the same alert is another notification: another key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx

from alerting.notification import Notification
from alerting.outbox import encode_notification
from alerting.receivers import _http

VERSION = "1"
SIGNATURE_HEADER = "X-Vigia-Signature"
TIMESTAMP_HEADER = "X-Vigia-Timestamp"


def signature(secret: str, body: bytes) -> str:
    """The `X-Vigia-Signature` value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookReceiver:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str = "",
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.url = url
        self._secret = secret
        self._client = client or _http.new_client(timeout)
        self._now = now

    def __repr__(self) -> str:  # never the secret
        return f"WebhookReceiver({self.name!r}, {self.url!r})"

    async def send(self, notifications: Sequence[Notification]) -> None:
        now = self._now()
        document = {
            "version": VERSION,
            "receiver": self.name,
            "sent_at": now.astimezone(UTC).isoformat(),
            "notifications": [
                {**encode_notification(n), "idempotency_key": n.idempotency_key}
                for n in notifications
            ],
        }
        body = json.dumps(document, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(int(now.timestamp()))}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        await _http.post(self._client, self.name, self.url, body, headers)

    async def aclose(self) -> None:
        await self._client.aclose()
