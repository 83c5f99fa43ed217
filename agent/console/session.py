"""Console sessions: the same bearer tokens, kept in an HttpOnly SameSite=Strict cookie.

Forms carry a CSRF field (an HMAC of the token under a per-process key) on top of SameSite.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import Request

from agent.api.auth import ANONYMOUS, Principal, Role, authenticate
from agent.console.i18n import DEFAULT, LANGUAGES
from agent.settings import Settings

COOKIE = "vigia_token"
LANG_COOKIE = "vigia_lang"


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key = secrets.token_bytes(32)

    def principal(self, request: Request) -> Principal | None:
        """The signed-in principal, the anonymous viewer if the board is open, else None."""
        found = authenticate(request.cookies.get(COOKIE), self.settings.tokens)
        if found is None and self.settings.anonymous_board:
            return ANONYMOUS
        return found

    def csrf(self, request: Request) -> str:
        token = request.cookies.get(COOKIE, "")
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, presented: str) -> bool:
        return hmac.compare_digest(self.csrf(request), presented)

    @property
    def secure_cookies(self) -> bool:
        return bool(self.settings.external_url and self.settings.external_url.startswith("https:"))


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
