"""Limits before work: Host, size and auth decided before any request body is read.

A pure ASGI middleware, outside the router, so a hostile body is refused from its headers
(or cut while it streams) and never buffered, parsed or validated: FastAPI reads a whole body
before the route's auth dependency runs, so auth there comes too late to protect memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agent.access.tokens import authenticate, probe_entries
from agent.settings import Settings, split_host_port

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
App = Callable[[Scope, Receive, Send], Any]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API = "/api/v1/"
HEARTBEAT = "/api/v1/heartbeat/"  # authenticated by the check's own token, in its route
LOGIN_BODY_LIMIT = 16 * 1024  # a pasted token and a CSRF field
FORM_BODY_LIMIT = 64 * 1024  # console forms (agent.console.session.form's own bound)

SECURITY_HEADERS = (
    # No inline script in the console (base.html.j2 loads /static/console.js), so 'self'
    # suffices; monthly reports inline their <style>. frame-ancestors and X-Frame-Options
    # stop clickjacking of the ack forms.
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")  # board, API and tokens' pages are never cached


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    allowed_hosts: frozenset[str]  # lower case, no port; "*" allows every host
    body_limit: int
    tokens: Callable[[], Iterable[Any]]  # the configured token entries, read per request

    @classmethod
    def of(cls, settings: Settings) -> GuardPolicy:
        # the location workers' tokens write too (their results)
        return cls(
            allowed_hosts(settings),
            settings.max_body_bytes,
            lambda: (*settings.tokens, *probe_entries(settings.locations)),
        )


def allowed_hosts(settings: Settings) -> frozenset[str]:
    if settings.allowed_hosts:
        return frozenset(h.lower().strip("[]") for h in settings.allowed_hosts)
    names = {"localhost", "127.0.0.1", "::1", split_host_port(settings.listen)[0].lower()}
    if settings.external_url:
        names.add((urlsplit(settings.external_url).hostname or "").lower())
    return frozenset(names - {""})


def host_allowed(allowed: frozenset[str], raw: bytes) -> bool:
    """A Host header (name, optional port, IPv6 in brackets) names a host served here."""
    if "*" in allowed:
        return True
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.rpartition(":")[0] if ":" in host else host
    return host in allowed


class HttpGuard:
    def __init__(self, app: App, policy: GuardPolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        send = _with_security_headers(send, no_store=not scope["path"].startswith("/static/"))
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _plain(send, *refusal)
            return
        limit = self._limit(scope["path"])
        capped = _CappedBody(receive, send, limit)
        try:
            await self.app(scope, capped.receive, capped.send)
        except Exception:
            if not capped.cut:
                raise  # the app's own fault; a cut body's ClientDisconnect is expected

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        if not self._host_ok(headers.get(b"host", b"")):
            return 400, "this Host is not served here (settings: allowed_hosts)"
        limit = self._limit(scope["path"])
        length = headers.get(b"content-length", b"0").strip()
        if not length.isdigit():
            return (400, "bad Content-Length") if length else None
        if int(length) > limit:
            return 413, f"the body may have at most {limit} bytes"
        if scope["method"] in UNSAFE and not self._may_write(scope["path"], headers):
            return 401, "a valid bearer token is required"
        return None

    def _limit(self, path: str) -> int:
        if path.startswith(API):
            return self.policy.body_limit
        return LOGIN_BODY_LIMIT if path == "/login" else FORM_BODY_LIMIT

    def _host_ok(self, raw: bytes) -> bool:
        return host_allowed(self.policy.allowed_hosts, raw)

    def _may_write(self, path: str, headers: dict[bytes, bytes]) -> bool:
        """API writes need a valid bearer token up front; the route still checks the role.

        Console forms keep their own cookie check (a redirect to /login), their bodies capped.
        """
        if not path.startswith(API) or path.startswith(HEARTBEAT):
            return True
        return authenticate(_token(headers), tuple(self.policy.tokens())) is not None


class _CappedBody:
    """Counts the body as it streams; past the limit, answers 413 and tells the app it is gone."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.seen, self.cut, self.started = 0, False, False

    async def receive(self) -> Message:
        if self.cut:
            return {"type": "http.disconnect"}
        message: Message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.cut = True
                if not self.started:
                    await _plain(self._send, 413, f"the body may have at most {self.limit} bytes")
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.cut:
            return  # the 413 is the answer; the app's late reply to a cut body is dropped
        self.started = True
        await self._send(message)


def _with_security_headers(send: Send, no_store: bool) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [h for h in SECURITY_HEADERS if h[0] not in present]
            if no_store and NO_STORE[0] not in present:
                extra.append(NO_STORE)
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def _plain(send: Send, status: int, text: str) -> None:
    """FastAPI's error shape, `{"detail": ...}`, so clients see one format."""
    body = json.dumps({"detail": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    headers.append((b"content-length", str(len(body)).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def _token(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return (credentials.strip() or None) if scheme.lower() == "bearer" else None
