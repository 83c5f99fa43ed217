"""The webhook receiver against a real loopback HTTP server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.notification import AlertStatus
from alerting.outbox import decode_notification
from alerting.receivers.webhook import WebhookReceiver
from tests.alerting.servers import T0, HttpRecorder, free_port, notification

SECRET = "s3cret-key"


async def test_the_body_is_signed_with_hmac_sha256_of_its_raw_bytes() -> None:
    resolved = notification(
        status=AlertStatus.RESOLVED, ends_at=T0 + timedelta(minutes=5), duration_seconds=300
    )
    with HttpRecorder() as server:
        hook = WebhookReceiver("soar", f"{server.url}/hook", secret=SECRET, now=lambda: T0)
        await hook.send([notification(), resolved])
        await hook.aclose()
    (request,) = server.requests
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.path == "/hook"
    assert request.headers["X-Vigia-Signature"] == f"sha256={expected}"
    assert request.headers["X-Vigia-Timestamp"] == str(int(T0.timestamp()))
    assert request.headers["Content-Type"] == "application/json"
    document = json.loads(request.body)
    assert (document["version"], document["receiver"]) == ("1", "soar")
    assert document["sent_at"] == T0.isoformat()
    sent = [decode_notification(n) for n in document["notifications"]]
    assert sent == [notification(), resolved]
    assert document["notifications"][1]["duration_seconds"] == 300


async def test_a_tampered_body_no_longer_matches_the_signature() -> None:
    with HttpRecorder() as server:
        hook = WebhookReceiver("soar", server.url, secret=SECRET)
        await hook.send([notification()])
        await hook.aclose()
    (request,) = server.requests
    tampered = request.body.replace(b"critical", b"info")
    forged = hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    assert request.headers["X-Vigia-Signature"] != f"sha256={forged}"


async def test_without_a_secret_no_signature_is_sent() -> None:
    with HttpRecorder() as server:
        hook = WebhookReceiver("plain", server.url)
        await hook.send([notification()])
        await hook.aclose()
    assert "X-Vigia-Signature" not in server.requests[0].headers


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_server_errors_and_throttling_are_transient(status: int) -> None:
    with HttpRecorder() as server:
        server.script.append(status)
        hook = WebhookReceiver("soar", server.url)
        with pytest.raises(TransientDeliveryError, match=f"answered {status}"):
            await hook.send([notification()])
        await hook.aclose()


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_client_errors_are_permanent(status: int) -> None:
    with HttpRecorder() as server:
        server.script.append(status)
        hook = WebhookReceiver("soar", server.url)
        with pytest.raises(PermanentDeliveryError, match=f"answered {status}.*bad payload"):
            await hook.send([notification()])
        await hook.aclose()


async def test_a_refused_connection_is_transient() -> None:
    hook = WebhookReceiver("soar", f"http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(TransientDeliveryError, match="ConnectError"):
        await hook.send([notification()])
    await hook.aclose()


def test_the_secret_never_shows_in_the_receivers_repr() -> None:
    assert SECRET not in repr(WebhookReceiver("soar", "http://x", secret=SECRET))


async def test_every_delivery_of_a_notification_has_one_idempotency_key_and_others_differ() -> None:
    """Delivery is at least once: a notification sent again (after a failover) carries the same
    key, so the receiver drops it; another state, a reminder or a later outage do not."""
    first = dataclasses.replace(notification(), sequence=1)
    others = [
        dataclasses.replace(first, sequence=2),  # a reminder
        dataclasses.replace(first, status=AlertStatus.RESOLVED, sequence=2),
        dataclasses.replace(first, starts_at=T0 + timedelta(hours=1)),  # a later outage
    ]
    with HttpRecorder() as server:
        hook = WebhookReceiver("soar", server.url)
        await hook.send([first])
        await hook.send([first])  # repeated by another node
        await hook.send(others)
        await hook.aclose()
    items = [n for r in server.requests for n in json.loads(r.body)["notifications"]]
    keys = [n["idempotency_key"] for n in items]
    assert keys[0] == keys[1] == first.idempotency_key and len(keys[0]) == 32
    assert len(set(keys[1:])) == 4
    assert [n["sequence"] for n in items] == [1, 1, 2, 2, 1]
    assert decode_notification(items[0]) == first  # the key is derived, not stored
