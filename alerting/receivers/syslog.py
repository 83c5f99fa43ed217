"""Syslog (RFC 5424) for the SOC's SIEM, over UDP (RFC 5426) or TCP with octet-counting
framing (RFC 6587 3.4.1: `<length> <message>`).

    <130>1 2024-06-10T06:13:20.000000Z agent01 vigia 4242 FIRING
      [alert@32473 id="tls-cert-changed:portal" status="firing" startsAt="..." sequence="1"
       idempotencyKey="3f1c..."]
      [labels@32473 alertname="tls-cert-changed" service="portal" team="soc" ...] summary

PRI = facility x 8 + severity, the severity from the alert's (critical -> 2, error -> 3,
warning -> 4, info -> 6); a resolution is a notice (5). The structured-data IDs use 32473, the
enterprise number RFC 5612 reserves for examples; set your own with `sd_enterprise`.
Parameter values escape `"`, `\\` and `]` (RFC 5424 6.3.3); label names are cut to the 32
printable characters an SD-NAME allows. MSG is UTF-8 without a BOM (MSG-ANY).

Delivery is at least once: a SIEM drops a repeated `idempotencyKey` (the same notification sent
again by another node after a failover). UDP says nothing about arrival: a datagram handed to
the kernel counts as delivered. TCP opens one connection per batch; refused, reset or timed out
is transient.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from alerting.notification import AlertStatus, Notification

SEVERITY = {"critical": 2, "error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
_DEFAULT_SEVERITY = 4
_RESOLVED_SEVERITY = 5
_SD_NAME_BAD = re.compile(r'[^!-~]|[=\]"]')  # SD-NAME: printable US-ASCII but = ] " and space
_ESCAPE = re.compile(r'(["\\\]])')


def pri(facility: int, notification: Notification) -> int:
    if notification.status is AlertStatus.RESOLVED:
        severity = _RESOLVED_SEVERITY
    else:
        severity = SEVERITY.get(notification.severity, _DEFAULT_SEVERITY)
    return facility * 8 + severity


def sd_name(name: str) -> str:
    return (_SD_NAME_BAD.sub("_", name) or "_")[:32]


def sd_value(value: str) -> str:
    return _ESCAPE.sub(r"\\\1", value)


def sd_element(sd_id: str, params: Sequence[tuple[str, str]]) -> str:
    body = "".join(f' {sd_name(k)}="{sd_value(v)}"' for k, v in params)
    return f"[{sd_id}{body}]"


def header_field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII, no spaces, `-` when empty (NILVALUE)."""
    return re.sub(r"[^!-~]", "_", value)[:limit] or "-"


def format_message(
    notification: Notification,
    *,
    facility: int,
    hostname: str,
    app_name: str,
    procid: str,
    timestamp: datetime,
    enterprise: int = 32473,
) -> bytes:
    n = notification
    stamp = timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    header = " ".join(
        (
            f"<{pri(facility, n)}>1",
            stamp,
            header_field(hostname, 255),
            header_field(app_name, 48),
            header_field(procid, 128),
            header_field(n.status.value.upper(), 32),
        )
    )
    alert = [("id", n.alert_id), ("status", n.status.value), ("startsAt", _iso(n.starts_at))]
    alert += [("sequence", str(n.sequence)), ("idempotencyKey", n.idempotency_key)]
    if n.ends_at is not None:
        alert.append(("endsAt", _iso(n.ends_at)))
    if n.duration_seconds is not None:
        alert.append(("durationSeconds", f"{n.duration_seconds:.0f}"))
    if n.generator_url:
        alert.append(("url", n.generator_url))
    data = sd_element(f"alert@{enterprise}", alert)
    data += sd_element(f"labels@{enterprise}", sorted(n.labels.items()))
    text = n.annotations.get("summary") or n.labels.get("alertname", n.alert_id)
    return f"{header} {data} {' '.join(text.split())}".encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SyslogReceiver:
    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 514,
        protocol: Literal["udp", "tcp"] = "udp",
        facility: int = 16,
        app_name: str = "vigia",
        hostname: str = "",
        enterprise: int = 32473,
        timeout: float = 10.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if protocol not in ("udp", "tcp"):
            raise ValueError(f"syslog protocol {protocol!r} is not udp or tcp")
        self.name = name
        self._host, self._port, self._protocol = host, port, protocol
        self._facility, self._app, self._enterprise = facility, app_name, enterprise
        self._hostname = hostname or socket.gethostname()
        self._timeout = timeout
        self._now = now

    def __repr__(self) -> str:
        return f"SyslogReceiver({self.name!r}, {self._protocol}://{self._host}:{self._port})"

    def messages(self, notifications: Sequence[Notification]) -> list[bytes]:
        now = self._now()
        return [
            format_message(
                n,
                facility=self._facility,
                hostname=self._hostname,
                app_name=self._app,
                procid=str(os.getpid()),
                timestamp=now,
                enterprise=self._enterprise,
            )
            for n in notifications
        ]

    async def send(self, notifications: Sequence[Notification]) -> None:
        messages = self.messages(notifications)
        where = f"{self.name}: syslog {self._protocol}://{self._host}:{self._port}"
        try:
            async with asyncio.timeout(self._timeout):
                if self._protocol == "tcp":
                    await self._send_tcp(messages)
                else:
                    await self._send_udp(messages)
        except socket.gaierror as exc:
            raise TransientDeliveryError(f"{where}: cannot resolve the host: {exc}") from exc
        except (OSError, TimeoutError) as exc:
            raise TransientDeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc

    async def _send_tcp(self, messages: list[bytes]) -> None:
        _, writer = await asyncio.open_connection(self._host, self._port)
        try:
            writer.write(b"".join(b"%d %s" % (len(m), m) for m in messages))
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    async def _send_udp(self, messages: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(self._host, self._port)
        )
        try:
            for message in messages:
                if len(message) > 65000:
                    raise PermanentDeliveryError(
                        f"{self.name}: a {len(message)}-byte message does not fit a datagram"
                    )
                transport.sendto(message)
        finally:
            transport.close()

    async def aclose(self) -> None:
        return None
