"""Console sessions: signing in with a bearer token opens a server-side session.

The cookie (HttpOnly, SameSite=Strict) carries a random session id, never the token: a copied
cookie dies with its session (logout, expiry, a restart, or its token leaving the settings).
Forms carry a CSRF field (an HMAC of the session id under a per-process key) on top of SameSite.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from agent.access.tokens import ANONYMOUS, Principal, Role, authenticate, hash_token
from agent.console.i18n import DEFAULT, LANGUAGES
from agent.settings import Settings

COOKIE = "vigia_session"
LANG_COOKIE = "vigia_lang"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000  # the oldest is closed first


@dataclass(frozen=True, slots=True)
class _Session:
    token_hash: str
    expires: float


class Sessions:
    def __init__(
        self, settings: Callable[[], Settings], monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings  # read per request: a reload may take tokens out
        self._key = secrets.token_bytes(32)
        self._now = monotonic
        self._open: OrderedDict[str, _Session] = OrderedDict()  # sha256(session id) -> session

    @property
    def settings(self) -> Settings:
        return self._settings()

    def open(self, token: str) -> str | None:
        """A new session id for a valid token, or None."""
        if authenticate(token, self.settings.tokens) is None:
            return None
        session_id = secrets.token_urlsafe(32)
        expires = self._now() + SESSION_SECONDS
        self._open[_key(session_id)] = _Session(hash_token(token), expires)
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return session_id

    def close(self, request: Request) -> None:
        self._open.pop(_key(request.cookies.get(COOKIE, "")), None)

    def principal(self, request: Request) -> Principal | None:
        """The signed-in principal, the anonymous viewer if the board is open, else None."""
        found = self._signed_in(request.cookies.get(COOKIE, ""))
        if found is None and self.settings.anonymous_board:
            return ANONYMOUS
        return found

    def _signed_in(self, session_id: str) -> Principal | None:
        session = self._open.get(_key(session_id)) if session_id else None
        if session is None or session.expires <= self._now():
            return None
        for entry in self.settings.tokens:  # a token taken out of the settings ends its sessions
            if hmac.compare_digest(entry.hash, session.token_hash):
                return Principal(entry.name, Role.named(entry.role))
        return None

    def csrf(self, request: Request) -> str:
        session_id = request.cookies.get(COOKIE, "")
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, presented: str) -> bool:
        return hmac.compare_digest(self.csrf(request), presented)

    @property
    def secure_cookies(self) -> bool:
        return bool(self.settings.external_url and self.settings.external_url.startswith("https:"))


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT)
    return chosen if chosen in LANGUAGES else DEFAULT


async def form(request: Request, limit: int = 64_000) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (no multipart needed for these forms)."""
    body = await request.body()
    if len(body) > limit:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def local_path(target: str | None) -> str:
    """A redirect target inside the console only (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def may(principal: Principal | None, role: Role) -> bool:
    return principal is not None and principal.can(role)
