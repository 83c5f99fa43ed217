"""Shared httpx transports: one SSL context per TLS profile, one connection pool per origin.

Building an SSL context costs ~23 ms of CPU (the CA bundle load) against ~1 ms for a probe, so
probes never build their own: they ask the pool.

Probes send through an `httpx.AsyncHTTPTransport` (httpx's connection pool), not through an
`httpx.AsyncClient`: the client's layers (cookie jar, auth flows, redirect loop, event hooks)
are all things a probe must not or does not use. A monitor must not carry cookies from one run
into the next, the probe bounds and follows redirects itself, and credentials are headers.
Under the transport, httpcore's connections run on vigia's own asyncio network backend
(checks/http_backend.py) instead of anyio's. With both, the probe, judging and phase timings
included, costs ~19 % less CPU than a bare `client.get` (bench/probe_cost.py, bench/RESULTS.md).
"""

from __future__ import annotations

import ssl

import httpcore
import httpx

from checks.http_backend import AsyncioBackend
from checks.specs import HttpSpec

# verify, ca_bundle, client cert, client key
Profile = tuple[bool, str | None, str | None, str | None]

# What an httpx client would send, always available (br and zstd need optional packages), and
# who is asking.
DEFAULT_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
    ("User-Agent", "vigia/0.1 (service availability probe)"),
)

# The agent runs thousands of checks against hundreds of hosts; keeping their connections
# alive between runs saves a TCP+TLS handshake per probe. Concurrency is capped by the
# scheduler, not here, so the total is unbounded.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=None, max_keepalive_connections=2000, keepalive_expiry=60.0
)


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
    """Hands out long-lived `httpx.AsyncHTTPTransport`s: one SSL context per TLS profile, one
    transport (connection pool) per (profile, origin).

    Why per origin: httpcore's pool scans every pooled connection (with a readability poll
    each) on every request it queues or releases, and an idle-limit check inside that scan is
    quadratic, so one pool holding the connections of hundreds of hosts costs milliseconds of
    CPU per request. A pool per origin keeps each scan to that host's few connections, and
    sharing the SSL context keeps a new pool cheap (no CA load).

    `trust_env` is off by default: proxies and CA files come from configuration, not from
    whatever environment the agent was started in.
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        trust_env: bool = False,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._limits = limits
        self._trust_env = trust_env
        self._contexts: dict[Profile, ssl.SSLContext] = {}
        self._transports: dict[tuple[Profile, str], httpx.AsyncHTTPTransport] = {}
        self._backend = backend or AsyncioBackend()

    def get(self, spec: HttpSpec) -> httpx.AsyncHTTPTransport:
        """The transport for the spec's TLS profile and its URL's origin."""
        return self.for_url(spec, spec.url)

    def for_url(self, spec: HttpSpec, url: str) -> httpx.AsyncHTTPTransport:
        """The transport for the spec's TLS profile and `url`'s origin (a redirect's target)."""
        key = (profile_of(spec), _origin(url))
        transport = self._transports.get(key)
        if transport is None:
            transport = self._transports[key] = self._build(key[0])
        return transport

    def _build(self, profile: Profile) -> httpx.AsyncHTTPTransport:
        context = self._contexts.get(profile)
        if context is None:
            context = self._contexts[profile] = ssl_context_for(profile)
        transport = httpx.AsyncHTTPTransport(
            verify=context, limits=self._limits, trust_env=self._trust_env
        )
        # httpx takes no network backend, so its pool is rebuilt with the same settings on
        # vigia's asyncio backend (checks/http_backend.py: why not anyio's).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=self._limits.max_connections,
            max_keepalive_connections=self._limits.max_keepalive_connections,
            keepalive_expiry=self._limits.keepalive_expiry,
            network_backend=self._backend,
        )
        return transport

    def __len__(self) -> int:
        """Number of distinct TLS profiles in use."""
        return len(self._contexts)

    async def aclose(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()
