"""The state of one HTTP probe run (its trace, measurements, connection and token) and the
answer it fetched."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from checks.http_cookies import ChainCookies
from checks.http_tls import chain_expiry
from checks.http_trace import Trace
from checks.result import Measurement
from checks.specs import HttpSpec


class Failed(Exception):
    """A judgement reached while the response is still open (redirect bound, body cap)."""


@dataclass(slots=True)
class Fetched:
    response: httpx.Response
    body: bytes
    redirects: int


class Run:
    """State of one probe run, kept outside the deadline so a timeout still reports it."""

    def __init__(self, spec: HttpSpec, now: Callable[[], datetime]) -> None:
        self.spec = spec
        self.now = now
        self.trace = Trace(spec.named)
        self.started = time.perf_counter()
        self.measurements: dict[str, Measurement] = {}
        self.connection: str | None = None  # new | reused | retried, of the chain's requests
        self.bearer: str | None = None  # an OAuth2 access token, for auth.oauth2
        self.read_body = spec.reads_body  # a scenario step that captures from it sets it too
        self.cookies: ChainCookies | None = None  # a scenario's session; None: the chain's own
        # drain a small unread body so the connection serves again: kept-alive checks, and a
        # scenario's steps (its next step reuses it)
        self.keep_connection = bool(spec.reuse_connection)
        self.via: str | None = None  # the proxy of the chain's last request, if any

    def measured(self) -> dict[str, Measurement]:
        connection = self.connection or ("new" if self.trace.connects else None)
        if connection is not None:
            self.measurements["connection"] = connection
        if self.trace.family:
            self.measurements["ip_family"] = self.trace.family
        if self.trace.fell_back:
            self.measurements["ip_fallback"] = True
        if self.trace.chains:
            self.measurements.update(chain_expiry(self.trace.chains, self.now()))
            self.measurements["tls_version"] = self.trace.tls_version
        return {**self.measurements, **{k: round(v, 6) for k, v in self.trace.phases.items()}}
