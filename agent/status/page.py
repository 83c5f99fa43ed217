"""Serving /status and /status/feed.atom from memory, so a crowd cannot load the agent.

A pure ASGI layer in front of the router (inside the HTTP guard): a request costs a dict lookup
and a send. The public view is rebuilt at most once per `status_page.refresh` seconds, by the
first request after it expires, while the others keep getting the previous one; each
language's page and feed is rendered (and gzip-compressed) once per view. Responses carry an
ETag and a Cache-Control max-age, and a matching If-None-Match gets a 304 with no body.
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

from agent.status.i18n import DEFAULT, LANGUAGES
from agent.status.render import FEED, PAGE, Renderer
from agent.status.view import PublicView, build_view

if TYPE_CHECKING:
    from agent.runtime import Agent

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[..., Awaitable[None]]

HTML = b"text/html; charset=utf-8"
ATOM = b"application/atom+xml; charset=utf-8"
KINDS = {PAGE: "html", PAGE + "/": "html", FEED: "atom"}
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
        agent: Agent,
        build: Callable[[Agent], Awaitable[PublicView]] = build_view,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent, self._build, self._monotonic = agent, build, monotonic
        self._renderer = Renderer(agent.settings.timezone)
        self._view: PublicView | None = None
        self._built_at = 0.0
        self._lock = asyncio.Lock()
        self._rendered: dict[tuple[str, str], Rendered] = {}
        self.builds = 0  # views built so far (self-metrics, tests)

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

    def _expired(self) -> bool:
        return self._monotonic() - self._built_at >= self.agent.settings.status_page.refresh

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
    zipped = _accepts_gzip(scope)
    etag, body = (page.gzip_etag, page.gzipped) if zipped else (page.etag, page.body)
    headers = [
        (b"etag", etag),
        (b"cache-control", f"public, max-age={int(refresh)}".encode()),
        (b"content-type", page.media_type),
        (b"vary", b"Accept-Encoding"),
    ]
    if zipped:
        headers.append((b"content-encoding", b"gzip"))
    if _matches(scope, etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == wanted:
            return bytes(value)
    return None


def _accepts_gzip(scope: Scope) -> bool:
    """gzip listed in Accept-Encoding and not refused with q=0."""
    for part in (_header(scope, b"accept-encoding") or b"").lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() == b"gzip":
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


def _matches(scope: Scope, etag: bytes) -> bool:
    """If-None-Match holds this ETag (weak or strong: a GET compares weakly) or `*`."""
    value = _header(scope, b"if-none-match")
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


def mount_status_page(app: Any, agent: Agent) -> None:
    """Added before the HTTP guard, so the guard wraps it: Host and size limits apply first."""
    pages = StatusPages(agent)
    app.state.vigia_status = pages
    app.add_middleware(StatusPageLayer, pages=pages)
