"""The e-mail receiver against a real SMTP server (aiosmtpd) on loopback, STARTTLS and AUTH."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.notification import AlertStatus
from alerting.receivers.email import EmailReceiver, format_duration
from tests.alerting.servers import T0, SmtpServer, free_port, notification

pytest.importorskip("aiosmtpd", reason="aiosmtpd (test extra) runs the SMTP server")
trustme = pytest.importorskip(
    "trustme", reason="trustme (test extra) makes the SMTP server certificate"
)


@pytest.fixture(scope="module")
def ca() -> object:
    return trustme.CA()


@pytest.fixture
def smtp(ca: object) -> Iterator[SmtpServer]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)  # type: ignore[attr-defined]
    with SmtpServer(server_context) as server:
        yield server


def _client_context(ca: object) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)  # type: ignore[attr-defined]
    return context


def _receiver(ca: object, port: int, **options: object) -> EmailReceiver:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "vigia@example.pt",
        "to": ["cco@example.pt", "oncall@example.pt"],
        "username": "vigia",
        "password": "s3cret",
        "ssl_context": _client_context(ca),
        "timeout": 5.0,
        **options,
    }
    return EmailReceiver("cco-mail", **settings)  # type: ignore[arg-type]


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_a_firing_alert_arrives_over_starttls_with_text_and_html(
    smtp: SmtpServer, ca: object
) -> None:
    await _receiver(ca, smtp.port).send([notification()])
    (envelope,) = smtp.messages
    assert envelope.rcpt_tos == ["cco@example.pt", "oncall@example.pt"]
    assert envelope.mail_from == "vigia@example.pt"
    message = _parsed(envelope.original_content)
    assert message["Subject"] == "[FIRING] critical portal: portal is down"
    text, html = _bodies(message)
    assert "FIRING: portal is down" in text and "Severity:  critical" in text
    assert "<h2" in html and "http://vigia.example/incidents/portal" in html


async def test_a_resolved_alert_carries_the_outage_duration(smtp: SmtpServer, ca: object) -> None:
    resolved = notification(
        status=AlertStatus.RESOLVED,
        ends_at=T0 + timedelta(minutes=12, seconds=5),
        duration_seconds=725,
    )
    await _receiver(ca, smtp.port).send([resolved])
    message = _parsed(smtp.messages[0].original_content)
    assert message["Subject"] == "[RESOLVED] critical portal: portal is down (outage 12 min 5 s)"
    text, html = _bodies(message)
    assert "Outage:    12 min 5 s" in text and "2024-06-10 06:12:05 UTC" in text
    assert "12 min 5 s" in html


async def test_label_values_are_escaped_in_html_and_kept_verbatim_in_text(
    smtp: SmtpServer, ca: object
) -> None:
    await _receiver(ca, smtp.port).send([notification(service="<script>x</script>")])
    text, html = _bodies(_parsed(smtp.messages[0].original_content))
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "Service:   <script>x</script>" in text


async def test_a_batch_is_one_message_per_notification(smtp: SmtpServer, ca: object) -> None:
    await _receiver(ca, smtp.port).send([notification("a:1"), notification("a:2", service="b")])
    subjects = [_parsed(e.original_content)["Subject"] for e in smtp.messages]
    assert subjects == [
        "[FIRING] critical portal: portal is down",
        "[FIRING] critical b: b is down",
    ]


async def test_a_refused_login_is_permanent(smtp: SmtpServer, ca: object) -> None:
    receiver = _receiver(ca, smtp.port, password="wrong")
    with pytest.raises(PermanentDeliveryError, match="535"):
        await receiver.send([notification()])
    assert smtp.messages == []


async def test_an_untrusted_certificate_is_permanent(smtp: SmtpServer, ca: object) -> None:
    receiver = _receiver(ca, smtp.port, ssl_context=ssl.create_default_context())
    with pytest.raises(PermanentDeliveryError, match="certificate refused"):
        await receiver.send([notification()])


async def test_a_temporary_refusal_of_the_message_is_transient(
    smtp: SmtpServer, ca: object
) -> None:
    smtp.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientDeliveryError, match="451"):
        await _receiver(ca, smtp.port).send([notification()])


async def test_a_server_without_starttls_is_refused_unless_starttls_is_off(ca: object) -> None:
    with SmtpServer(None) as plain:
        with pytest.raises(PermanentDeliveryError, match="does not offer STARTTLS"):
            await _receiver(ca, plain.port).send([notification()])
        assert plain.messages == []
        await _receiver(ca, plain.port, starttls=False, username="").send([notification()])
        assert len(plain.messages) == 1


async def test_a_refused_connection_is_transient(ca: object) -> None:
    with pytest.raises(TransientDeliveryError, match="ConnectionRefusedError"):
        await _receiver(ca, free_port()).send([notification()])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.6, "1 min"), (3725, "1 h 2 min 5 s"), (90000, "1 d 1 h"), (None, "")],
)
def test_durations_read_as_units(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


async def test_a_notification_sent_again_is_the_same_message(smtp: SmtpServer, ca: object) -> None:
    """Same Message-ID and idempotency key on a repeat (delivery is at least once); another
    notification of the alert is another message."""
    first = dataclasses.replace(notification(), sequence=1)
    resolved = dataclasses.replace(first, status=AlertStatus.RESOLVED, sequence=2)
    receiver = _receiver(ca, smtp.port)
    await receiver.send([first])
    await receiver.send([first, resolved])
    messages = [_parsed(e.original_content) for e in smtp.messages]
    ids = [m["Message-ID"] for m in messages]
    keys = [m["X-Vigia-Idempotency-Key"] for m in messages]
    assert keys == [first.idempotency_key] * 2 + [resolved.idempotency_key]
    assert ids[0] == ids[1] == f"<{first.idempotency_key}.vigia@example.pt>"
    assert ids[2] != ids[0]
