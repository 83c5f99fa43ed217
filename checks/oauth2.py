"""OAuth2 client credentials (RFC 6749 4.4) for http checks behind an API gateway.

The probe asks the token endpoint for an access token and sends it as a bearer. The token is
cached per check until shortly before it expires (`REFRESH_MARGIN` of its lifetime, at least
`MIN_MARGIN` seconds), so a check probed every 30 s asks the identity provider once an hour,
not every run; concurrent runs of one check share one token request. A token the API refuses
(401) is dropped and the run asks for a new one once.

The token and the client secret never appear in a reason, a log line or a measurement: a
failure of the token step names the step, the endpoint's origin and the status, and quotes
only the OAuth2 `error` code of the answer (RFC 6749 5.2), never its body.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import httpx

from checks.secrets import redacted_origin

if TYPE_CHECKING:
    from checks.specs import OAuth2

REFRESH_MARGIN = 0.1  # of the token's lifetime: refreshed that long before it expires
MIN_MARGIN = 5.0  # seconds
DEFAULT_LIFETIME = 300.0  # seconds, for an answer without `expires_in` (it is optional)
MAX_TOKEN_ANSWER = 65_536  # bytes of the token endpoint's answer read at most
_ERROR_CODE = 40  # characters of an `error` code quoted at most
_NO_STEP_TIMEOUTS = httpx.Timeout(None).as_dict()  # the probe's deadline bounds the request


class TokenFailure(Exception):
    """The token step failed; the message is the probe's reason."""


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # monotonic seconds


Key = tuple[str, str, str, str, tuple[str, ...]]  # check, token URL, client id, secret, scopes


def cache_key(check_id: str, config: OAuth2) -> Key:
    return (
        check_id,
        config.token_url,
        config.client_id,
        config.client_secret.get_secret_value(),
        tuple(config.scopes),
    )


class TokenCache:
    """Access tokens by check (and its OAuth2 settings: a reload that changes them asks anew)."""

    def __init__(self) -> None:
        self._tokens: dict[Key, _Token] = {}
        self._locks: dict[Key, asyncio.Lock] = {}

    def cached(self, key: Key, now: float) -> str | None:
        token = self._tokens.get(key)
        return token.value if token is not None and now < token.refresh_at else None

    def lock(self, key: Key) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def keep(self, key: Key, value: str, lifetime: float, now: float) -> None:
        margin = max(MIN_MARGIN, lifetime * REFRESH_MARGIN)
        self._tokens[key] = _Token(value, now + max(0.0, lifetime - margin))
        self._prune(now)

    def drop(self, key: Key) -> None:
        self._tokens.pop(key, None)

    def __len__(self) -> int:
        return len(self._tokens)

    def _prune(self, now: float) -> None:
        """Forget what expired: checks removed by a reload leave no token behind for long."""
        if len(self._tokens) % 64 == 0:
            for key in [k for k, t in self._tokens.items() if t.refresh_at <= now]:
                del self._tokens[key]
                self._locks.pop(key, None)


def token_request(config: OAuth2) -> httpx.Request:
    """The client-credentials request: client authentication by HTTP Basic (the RFC's
    default, with the id and secret form-encoded first, 2.3.1) or in the body."""
    form = {"grant_type": "client_credentials"}
    if config.scopes:
        form["scope"] = " ".join(config.scopes)
    if config.audience:
        form["audience"] = config.audience
    headers = {"Accept": "application/json"}
    secret = config.client_secret.get_secret_value()
    if config.client_auth == "basic":
        pair = f"{quote_plus(config.client_id)}:{quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form.update(client_id=config.client_id, client_secret=secret)
    return httpx.Request(
        "POST",
        config.token_url,
        headers=headers,
        data=form,
        extensions={"timeout": _NO_STEP_TIMEOUTS},
    )


async def bearer(
    cache: TokenCache,
    key: Key,
    config: OAuth2,
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    now: Callable[[], float],
) -> tuple[str, bool]:
    """The check's access token and whether it came from the cache; TokenFailure, or the
    transport's httpx error, when the token step fails."""
    token = cache.cached(key, now())
    if token is not None:
        return token, True
    async with cache.lock(key):  # runs of one check waiting here share the first's token
        token = cache.cached(key, now())
        if token is not None:
            return token, True
        response = await send(token_request(config))
        try:
            token, lifetime = await read_token(response, config)
        finally:
            await response.aclose()
        cache.keep(key, token, lifetime, now())
        return token, False


def step_name(config: OAuth2) -> str:
    return f"OAuth2 token request to {redacted_origin(config.token_url)}"


async def read_token(response: httpx.Response, config: OAuth2) -> tuple[str, float]:
    """The access token and its lifetime in seconds, or TokenFailure saying why not."""
    step = step_name(config)
    body = await _read_capped(response)
    if response.status_code != 200:
        code = _error_code(body)
        detail = f" ({code})" if code else ""
        raise TokenFailure(f"{step}: status {response.status_code}{detail}")
    try:
        answer = json.loads(body)
    except ValueError:
        raise TokenFailure(f"{step}: the answer is not JSON") from None
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenFailure(f"{step}: the answer has no access_token")
    expires_in = answer.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(expires_in, str) and expires_in.isdigit():  # some providers send a string
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in < 0:
        raise TokenFailure(f"{step}: expires_in is not a number of seconds")
    return token, float(expires_in)


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_TOKEN_ANSWER:
            break  # judged on what came: an honest token answer is a few hundred bytes
        chunks.append(chunk)
    return b"".join(chunks)


def _error_code(body: bytes) -> str | None:
    """The OAuth2 `error` code (`invalid_client`, ...): a code, never a description or a
    token, so it is safe to quote."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    code = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum():
        return code[:_ERROR_CODE]
    return None
