"""Where an HTTP probe is and how long each phase took, from httpx's `trace` extension; and the
certificate chain of each TLS connection, captured as its handshake completes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from checks.cert_chain import counted_chain


class Trace:
    """httpx `trace` extension callback: phase timings and where the probe is now.

    httpcore resolves the name inside `connect_tcp`, so DNS time is part of phase_connect
    and no phase_dns is reported. Phases of redirect hops add up; a reused keep-alive
    connection has no connect or TLS phase (`connects` counts the connections opened).
    `family` is the address family of the last connection opened, `fell_back` whether a
    `fallback: true` check took the other family for want of its own (checks/ip_family.py).
    """

    __slots__ = (
        "_counted",
        "_named",
        "_sni",
        "_starts",
        "chains",
        "connects",
        "family",
        "fell_back",
        "headers_at",
        "phase",
        "phases",
        "proxy_host",
        "tls_version",
    )

    def __init__(self, named: tuple[str, str] | None = None) -> None:
        self.phase = "waiting for a connection"
        self.connects = 0
        self.family = ""
        self.fell_back = False
        self.chains: list[tuple[str, list[bytes]]] = []  # per TLS connection: name, chain
        self.tls_version = ""
        self._sni = ""
        self._named = named  # (host, server_name): a tunnel's handshake names the host
        self._counted = True
        self.proxy_host: str | None = None  # an https proxy's: its handshake is not the origin's
        self.phases: dict[str, float] = {}
        self._starts: dict[str, float] = {}
        self.headers_at = 0.0

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        # "connection.connect_tcp.started", "http11.send_request_body.complete", ...
        step = name.partition(".")[2]
        handler = _STEPS.get(step)
        if handler is not None:
            handler(self, time.perf_counter(), info)

    def _start(self, key: str, phase: str, now: float) -> None:
        self._starts[key] = now
        self.phase = phase

    def _end(self, key: str, bucket: str, now: float) -> None:
        start = self._starts.pop(key, None)
        if start is not None:
            self.phases[bucket] = self.phases.get(bucket, 0.0) + now - start

    def _connecting(self, now: float) -> None:
        self.connects += 1
        self._start("connect", "while connecting", now)

    def _connected(self, now: float, info: dict[str, Any]) -> None:
        self._end("connect", "phase_connect", now)
        stream = info.get("return_value")
        self.family = getattr(stream, "family", "")  # our backend's streams say (http_backend)
        self.fell_back = self.fell_back or getattr(stream, "fell_back", False)

    def _tls_started(self, now: float, info: dict[str, Any]) -> None:
        self._start("tls", "during the TLS handshake", now)
        self._sni = str(info.get("server_hostname") or "")
        self._counted = self._sni != self.proxy_host
        if self._named is not None and self._sni == self._named[0]:
            self._sni = self._named[1]  # the name the tunnel asks for (checks/http_proxy.py)

    def _tls_done(self, now: float, info: dict[str, Any]) -> None:
        self._end("tls", "phase_tls", now)
        stream = info.get("return_value")
        tls = stream.get_extra_info("ssl_object") if stream is not None else None
        if tls is not None and self._counted:  # its certificates, for the first expiry
            self.chains.append((self._sni, counted_chain(tls)))
            self.tls_version = tls.version() or ""

    def _headers_received(self, now: float) -> None:
        self._end("sent", "phase_processing", now)
        self.headers_at = now
        self.phase = "while reading the body"


_STEPS: dict[str, Callable[[Trace, float, dict[str, Any]], None]] = {
    "connect_tcp.started": lambda t, now, _: t._connecting(now),
    "connect_tcp.complete": lambda t, now, info: t._connected(now, info),
    "start_tls.started": lambda t, now, info: t._tls_started(now, info),
    "start_tls.complete": lambda t, now, info: t._tls_done(now, info),
    "send_request_headers.started": lambda t, now, _: setattr(
        t, "phase", "while sending the request"
    ),
    "send_request_body.complete": lambda t, now, _: t._start(
        "sent", "waiting for the response headers", now
    ),
    "receive_response_headers.complete": lambda t, now, _: t._headers_received(now),
}
