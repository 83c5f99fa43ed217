"""Shared httpx clients, one per TLS profile.

Building an `httpx.AsyncClient` costs ~23 ms of CPU (SSL context + CA bundle load) against
~1 ms for a probe on a shared one, so probes never build their own: they ask the pool.
"""

from __future__ import annotations

import ssl
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from urllib.request import Request

import httpx

from checks.specs import HttpSpec

# verify, ca_bundle, client cert, client key
Profile = tuple[bool, str | None, str | None, str | None]

# The agent runs thousands of checks against hundreds of hosts; keeping their connections
# alive between runs saves a TCP+TLS handshake per probe. Concurrency is capped by the
# scheduler, not here, so the total is unbounded.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=None, max_keepalive_connections=2000, keepalive_expiry=60.0
)


class _RefuseCookies(DefaultCookiePolicy):
    """A shared client must not carry one service's cookies into another's probe."""

    def set_ok(self, cookie: Cookie, request: Request) -> bool:
        return False


def profile_of(spec: HttpSpec) -> Profile:
    cert = spec.client_cert
    return (
        spec.verify,
        spec.ca_bundle,
        cert.cert if cert else None,
        cert.key if cert else None,
    )


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].lower()}"


def ssl_context_for(profile: Profile) -> ssl.SSLContext:
    """System CAs (or the bundle) like the TLS probe, so both judge a chain the same way."""
    verify, ca_bundle, cert, key = profile
    if verify:
        context = ssl.create_default_context(cafile=ca_bundle)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


class HttpClientPool:
    """Hands out long-lived `httpx.AsyncClient`s: one SSL context per TLS profile, one client
    per (profile, origin).

    Why per origin: httpcore's pool scans every pooled connection (with a readability poll
    each) on every request it queues or releases, and an idle-limit check inside that scan is
    quadratic, so one client holding the connections of hundreds of hosts costs milliseconds of
    CPU per request. A client per origin keeps each scan to that host's few connections, and
    sharing the SSL context keeps a new client cheap (no CA load).

    Redirects are followed by the probe (each spec has its own bound), so clients never follow.
    `trust_env` is off by default: proxies and CA files come from configuration, not from
    whatever environment the agent was started in.
    """

    def __init__(self, *, limits: httpx.Limits = DEFAULT_LIMITS, trust_env: bool = False) -> None:
        self._limits = limits
        self._trust_env = trust_env
        self._contexts: dict[Profile, ssl.SSLContext] = {}
        self._clients: dict[tuple[Profile, str], httpx.AsyncClient] = {}

    def get(self, spec: HttpSpec) -> httpx.AsyncClient:
        key = (profile_of(spec), _origin(spec.url))
        client = self._clients.get(key)
        if client is None:
            client = self._build(key[0])
            self._clients[key] = client
        return client

    def _build(self, profile: Profile) -> httpx.AsyncClient:
        context = self._contexts.get(profile)
        if context is None:
            context = self._contexts[profile] = ssl_context_for(profile)
        return httpx.AsyncClient(
            verify=context,
            limits=self._limits,
            follow_redirects=False,
            trust_env=self._trust_env,
            cookies=CookieJar(policy=_RefuseCookies()),
            headers={"User-Agent": "vigia/0.1 (service availability probe)"},
        )

    def __len__(self) -> int:
        """Number of distinct TLS profiles in use."""
        return len(self._contexts)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
