"""Serving /status and /status/feed.atom from memory, so a crowd cannot load the agent.

Two ways in. While the view is fresh and its rendering made, the HTTP server's protocol asks
`StatusPages.answer` as soon as a request's headers are parsed and writes the bytes it returns
without starting the ASGI application (agent/http_protocol.py): a crowd then costs a header
parse and a socket write. Otherwise (first request, expired view, a language not yet rendered,
anything unusual about the request) the ASGI layer in front of the router (inside the HTTP
guard) answers, and rebuilds. The public view is rebuilt at most once per `status_page.refresh`
seconds, by the first request after it expires, while the others keep getting the previous
one; each language's page and feed is rendered (and gzip-compressed) once per view. Responses
carry an ETag and a Cache-Control max-age, and a matching If-None-Match gets a 304 with no body.
Both ways give the same status, headers and body (tests/status/test_status_from_memory.py).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from agent.http_guard import SECURITY_HEADERS, allowed_hosts, host_allowed
from agent.http_protocol import MemoryAnswer
from agent.status.i18n import DEFAULT, LANGUAGES
from agent.status.render import FEED, PAGE, Renderer
from agent.status.view import PublicView, build_view

if TYPE_CHECKING:
    from agent.agent_view import AgentView

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[..., Awaitable[None]]

HTML = b"text/html; charset=utf-8"
ATOM = b"application/atom+xml; charset=utf-8"
KINDS = {PAGE: "html", PAGE + "/": "html", FEED: "atom"}
RAW_KINDS = {path.encode(): kind for path, kind in KINDS.items()}
Headers = list[tuple[bytes, bytes]]
RETRY_AFTER = b"10"
GZIP_LEVEL = 6  # once per rendering: the page shrinks about tenfold


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: bytes
    media_type: bytes
    gzipped: bytes  # the same body gzip-compressed once, for clients that accept it

    @property
    def gzip_etag(self) -> bytes:
        return self.etag[:-1] + b'-gz"'  # another representation, another tag (RFC 9110)


class StatusPages:
    """The cached view and its renderings; `build` and `monotonic` are injected for tests."""

    def __init__(
        self,
        agent: AgentView,
        build: Callable[[AgentView], Awaitable[PublicView]] = build_view,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent, self._build, self._monotonic = agent, build, monotonic
        self._renderer = Renderer(agent.settings.timezone)
        self._view: PublicView | None = None
        self._built_at = 0.0
        self._lock = asyncio.Lock()
        self._rendered: dict[tuple[str, str], Rendered] = {}
        self._hosts = allowed_hosts(agent.settings)  # not reloadable: fixed for the process
        self.builds = 0  # views built so far (self-metrics, tests)
        self.answered_from_memory = 0  # requests the protocol answered without the app

    @property
    def enabled(self) -> bool:
        return self.agent.settings.status_page.enabled

    async def get(self, kind: str, lang: str) -> Rendered:
        """The page or feed in `lang`; raises when no view was ever built and building fails."""
        if self._view is None or self._expired():
            await self._refresh()
        key = (kind, lang)
        found = self._rendered.get(key)
        if found is None:
            found = self._rendered[key] = self._render(kind, lang)
        return found

    def answer(
        self, method: bytes, raw_path: bytes, query: bytes, headers: Headers
    ) -> MemoryAnswer | None:
        """The whole answer to a plain GET/HEAD of a fresh, rendered page; None for the app.

        Anything the app would treat differently (off, another path or method, a body, a Host
        the guard refuses, a bad language, an expired view) goes to the app, which answers it.
        """
        kind = RAW_KINDS.get(raw_path)
        if kind is None or method not in (b"GET", b"HEAD") or not self.enabled:
            return None
        if self._view is None or self._expired():
            return None
        lang = _language(query) if query else DEFAULT
        page = self._rendered.get((kind, lang)) if lang is not None else None
        fields = dict(headers)
        if page is None or not _plain_request(fields) or not self._host_ok(fields):
            return None
        status, answer_headers, body = _response(fields, page, self.refresh)
        self.answered_from_memory += 1
        head = b"".join(name + b": " + value + b"\r\n" for name, value in answer_headers)
        return MemoryAnswer(status, head, b"" if method == b"HEAD" else body)

    @property
    def refresh(self) -> float:
        return self.agent.settings.status_page.refresh

    def _host_ok(self, fields: dict[bytes, bytes]) -> bool:
        return host_allowed(self._hosts, fields.get(b"host", b""))

    def _expired(self) -> bool:
        return self._monotonic() - self._built_at >= self.refresh

    async def _refresh(self) -> None:
        if self._lock.locked() and self._view is not None:
            return  # someone is rebuilding: serve the previous view meanwhile
        async with self._lock:
            if self._view is not None and not self._expired():
                return  # rebuilt while this request waited
            try:
                view = await self._build(self.agent)
            except Exception:
                if self._view is None:
                    raise
                log.warning("status page not rebuilt; serving the previous one", exc_info=True)
                self._built_at = self._monotonic()  # retry after a refresh period, not at once
                return
            self._view, self._built_at = view, self._monotonic()
            self._rendered = {}
            self.builds += 1

    def _render(self, kind: str, lang: str) -> Rendered:
        assert self._view is not None
        config = self.agent.settings.status_page
        if kind == "atom":
            base = self.agent.settings.external_url or "urn:vigia"
            body = self._renderer.atom(self._view, lang, config.title, base)
            media = ATOM
        else:
            body = self._renderer.html(self._view, lang, config.title, config.refresh)
            media = HTML
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        return Rendered(body, etag, media, gzip.compress(body, GZIP_LEVEL, mtime=0))


class StatusPageLayer:
    """ASGI: answers the status routes while the page is enabled; everything else passes."""

    def __init__(self, app: App, pages: StatusPages) -> None:
        self.app, self.pages = app, pages

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        kind = KINDS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or not self.pages.enabled:
            await self.app(scope, receive, send)  # off: the router's 404
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"only GET and HEAD", [(b"allow", b"GET, HEAD")])
            return
        lang = _language(scope.get("query_string", b""))
        if lang is None:
            await _plain(send, 400, f"lang must be one of {', '.join(LANGUAGES)}".encode())
            return
        try:
            page = await self.pages.get(kind, lang)
        except Exception:
            log.warning("status page unavailable", exc_info=True)
            headers = [(b"retry-after", RETRY_AFTER)]
            await _plain(send, 503, b"the status page is unavailable; retry later", headers)
            return
        await _answer(scope, send, page, self.pages.agent.settings.status_page.refresh)


def _language(query: bytes) -> str | None:
    values = parse_qs(query.decode("latin-1")).get("lang")
    if not values:
        return DEFAULT
    return values[-1] if values[-1] in LANGUAGES else None


async def _answer(scope: Scope, send: Send, page: Rendered, refresh: float) -> None:
    status, headers, body = _response(_headers(scope), page, refresh)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _response(
    fields: dict[bytes, bytes], page: Rendered, refresh: float
) -> tuple[int, Headers, bytes]:
    """Status, headers (the guard's security headers included) and body for a request."""
    zipped = _accepts_gzip(fields.get(b"accept-encoding", b""))
    etag, body = (page.gzip_etag, page.gzipped) if zipped else (page.etag, page.body)
    headers = [
        (b"etag", etag),
        (b"cache-control", f"public, max-age={int(refresh)}".encode()),
        (b"content-type", page.media_type),
        (b"vary", b"Accept-Encoding"),
    ]
    if zipped:
        headers.append((b"content-encoding", b"gzip"))
    if _matches(fields.get(b"if-none-match"), etag):
        return 304, [*headers, *SECURITY_HEADERS], b""
    headers.append((b"content-length", str(len(body)).encode()))
    return 200, [*headers, *SECURITY_HEADERS], body


def _plain_request(fields: dict[bytes, bytes]) -> bool:
    """No body and nothing to negotiate: what the protocol may answer without the app."""
    length = fields.get(b"content-length", b"0").strip()
    return length in (b"", b"0") and b"transfer-encoding" not in fields and b"expect" not in fields


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): bytes(value) for name, value in scope.get("headers", ())}


def _accepts_gzip(accept_encoding: bytes) -> bool:
    """gzip listed in Accept-Encoding and not refused with q=0."""
    for part in accept_encoding.lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() == b"gzip":
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


def _matches(value: bytes | None, etag: bytes) -> bool:
    """If-None-Match holds this ETag (weak or strong: a GET compares weakly) or `*`."""
    if value is None:
        return False
    tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
    return etag in tags or b"*" in tags


async def _plain(
    send: Send, status: int, text: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *(extra or [])]
    headers.append((b"content-length", str(len(text)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def mount_status_page(app: Any, agent: AgentView) -> None:
    """Added before the HTTP guard, so the guard wraps it: Host and size limits apply first."""
    pages = StatusPages(agent)
    app.state.vigia_status = pages
    app.add_middleware(StatusPageLayer, pages=pages)
