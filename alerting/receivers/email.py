"""E-mail over SMTP, STARTTLS by default: one message per notification, text and HTML parts
rendered from `alerting/templates/email.{txt,html}.j2` (HTML autoescaped).

Subject: `[FIRING] critical portal-cidadao: Service down` or
`[RESOLVED] critical portal-cidadao: Service down (outage 12 min 5 s)`.

Delivery is at least once: a notification sent again (after a failover) has the same
Message-ID and `X-Vigia-Idempotency-Key` header as the first time.

The stdlib `smtplib` runs in a thread, so no dependency is added for a few messages a minute.
Failures: refused or unreachable server, timeouts, 4xx replies are transient; refused
authentication, refused sender or recipients, 5xx replies, a server without STARTTLS when it is
required and a certificate that does not verify are permanent (a configuration to fix).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import jinja2

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.notification import AlertStatus, Notification

IDEMPOTENCY_HEADER = "X-Vigia-Idempotency-Key"


class EmailReceiver:
    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 587,
        sender: str,
        to: Sequence[str],
        starttls: bool = True,
        username: str = "",
        password: str = "",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._host, self._port = host, port
        self._sender, self._to = sender, list(to)
        self._starttls = starttls
        self._username, self._password = username, password
        self._context = ssl_context or ssl.create_default_context()
        self._timeout = timeout
        self._now = now
        self._templates = jinja2.Environment(
            loader=jinja2.PackageLoader("alerting", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def __repr__(self) -> str:  # never the password
        return f"EmailReceiver({self.name!r}, {self._host}:{self._port})"

    async def send(self, notifications: Sequence[Notification]) -> None:
        await self.deliver([self.message(n) for n in notifications])

    async def deliver(self, messages: Sequence[EmailMessage]) -> None:
        """Send ready messages in one SMTP session (the scheduled reports use it too)."""
        await asyncio.to_thread(self._deliver, list(messages))

    async def aclose(self) -> None:
        return None  # one SMTP session per batch: nothing stays open

    # ---- rendering --------------------------------------------------------------------------

    def message(self, notification: Notification) -> EmailMessage:
        """One message per notification. Its Message-ID and `X-Vigia-Idempotency-Key` come from
        the notification's idempotency key, so a notification sent again (delivery is at least
        once) is the same message, which mail systems and readers can drop as a duplicate."""
        context = _context(notification)
        message = self.new_message(context["subject"])
        key = notification.idempotency_key
        domain = self._sender.rpartition("@")[2] or "vigia.invalid"
        message.replace_header("Message-ID", f"<{key}.vigia@{domain}>")
        message[IDEMPOTENCY_HEADER] = key
        message.set_content(self._templates.get_template("email.txt.j2").render(context))
        html = self._templates.get_template("email.html.j2").render(context)
        message.add_alternative(html, subtype="html")
        return message

    def new_message(self, subject: str) -> EmailMessage:
        """An empty message with the subject and this receiver's From, To, Date, Message-ID."""
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = ", ".join(self._to)
        message["Date"] = format_datetime(self._now())
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        return message

    # ---- SMTP (in a thread) -----------------------------------------------------------------

    def _deliver(self, messages: list[EmailMessage]) -> None:
        where = f"{self.name}: SMTP {self._host}:{self._port}"
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                self._open(smtp, where)
                for message in messages:
                    smtp.send_message(message, self._sender, self._to)
        except (PermanentDeliveryError, TransientDeliveryError):
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"{where}: recipients refused: {exc.recipients}") from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
            raise PermanentDeliveryError(f"{where}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            error = TransientDeliveryError if exc.smtp_code < 500 else PermanentDeliveryError
            raise error(f"{where}: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise PermanentDeliveryError(f"{where}: certificate refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS failure
            raise TransientDeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc

    def _open(self, smtp: smtplib.SMTP, where: str) -> None:
        smtp.ehlo()
        if self._starttls:
            if not smtp.has_extn("starttls"):
                raise PermanentDeliveryError(f"{where}: the server does not offer STARTTLS")
            smtp.starttls(context=self._context)
            smtp.ehlo()
        if self._username:
            smtp.login(self._username, self._password)


def _context(n: Notification) -> dict[str, Any]:
    resolved = n.status is AlertStatus.RESOLVED
    service = n.labels.get("service", "")
    summary = n.annotations.get("summary") or n.labels.get("alertname", n.alert_id)
    duration = format_duration(_outage_seconds(n)) if resolved else ""
    subject = f"[{n.status.value.upper()}] {n.severity} {service}: {summary}".replace("  ", " ")
    if resolved and duration:
        subject += f" (outage {duration})"
    return {
        "subject": " ".join(subject.split()),  # no newlines from labels into a header
        "status_word": n.status.value.upper(),
        "resolved": resolved,
        "summary": summary,
        "description": n.annotations.get("description", ""),
        "runbook_url": _web_url(n.annotations.get("runbook_url", "")),
        "console_url": _web_url(n.annotations.get("console_url", "") or n.generator_url),
        "service": service,
        "severity": n.severity,
        "team": n.team,
        "starts_at": _when(n.starts_at),
        "ends_at": _when(n.ends_at) if n.ends_at else "",
        "duration": duration or "-",
        "labels": sorted(n.labels.items()),
        "alert_id": n.alert_id,
    }


def _outage_seconds(n: Notification) -> float | None:
    if n.duration_seconds is not None:
        return n.duration_seconds
    if n.ends_at is not None:
        return (n.ends_at - n.starts_at).total_seconds()
    return None


def format_duration(seconds: float | None) -> str:
    """`1 h 2 min 5 s`; whole seconds, the largest units first."""
    if seconds is None:
        return ""
    left = max(round(seconds), 0)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left} s")
    return " ".join(parts)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _web_url(url: str) -> str:
    """Only http(s) links reach the HTML (no `javascript:` from a label template)."""
    return url if url.startswith(("http://", "https://")) else ""
