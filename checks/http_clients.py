"""Transports for the HTTP probe: one SSL context per TLS profile, shared; by default a pool
of its own per probe run (a new connection each run, as blackbox_exporter and a new visitor
make), and for `reuse_connection: true` checks a keep-alive pool per origin, bounded in number.

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

import asyncio
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from checks.http_backend import AsyncioBackend
from checks.http_proxy import build_proxy_pool, bypasses
from checks.ip_family import IpFamily
from checks.specs import HttpSpec, TlsProfile
from checks.tls_versions import bound

# verify, ca_bundle, client cert, client key, min_version, max_version
Profile = TlsProfile

# ip_family, fallback: which addresses the connections may use (checks/ip_family.py)
Family = tuple[IpFamily, bool]

# (host, server_name): the check's own host is asked by that name (SNI and verification)
Named = tuple[str, str]

# what a keep-alive pool is for: TLS profile, origin, family, name, proxy
_Key = tuple[Profile, str, Family, Named | None, str | None]

# What an httpx client would send, always available (br and zstd need optional packages), and
# who is asking.
DEFAULT_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
    ("User-Agent", "vigia/0.1 (service availability probe)"),
)

# For `reuse_connection: true` checks: keeping their connections alive between runs saves a
# TCP+TLS handshake per probe. Concurrency is capped by the scheduler, not here.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=None, max_keepalive_connections=2000, keepalive_expiry=60.0
)

# A kept-alive connection idle past `keepalive_expiry` is closed by a sweep this often, not
# only when the next request to its origin comes: for a check whose interval is longer than
# the expiry (or one removed by a reload) that is an interval later, or never.
SWEEP_SECONDS = 5.0

# Keep-alive origin pools held at once: every redirect target is an origin, and a cache keyed
# by origin must not grow with every new one (#12).
MAX_ORIGINS = 4096


# The spec's own parts of these keys (`tls_profile`, `address_family`, `named`) are computed
# once per spec (checks/http_spec.py), not per probe.


def transports_key(spec: HttpSpec) -> tuple[object, ...]:
    """What the transports of a run depend on: runs of specs with equal keys (a scenario's
    steps) may share their connections."""
    no_proxy = tuple(spec.no_proxy or ())
    return (
        spec.tls_profile,
        spec.address_family,
        spec.named,
        spec.reuse_connection,
        spec.proxy,
        no_proxy,
    )


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].lower()}"


def ssl_context_for(profile: Profile) -> ssl.SSLContext:
    """System CAs (or the bundle) like the TLS probe, so both judge a chain the same way."""
    verify, ca_bundle, cert, key, min_version, max_version = profile
    if verify:
        context = ssl.create_default_context(cafile=ca_bundle)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    bound(context, min_version, max_version)
    return context


class PooledTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool built here: httpx takes no network backend, so its pool is
    built with vigia's asyncio backend (checks/http_backend.py: why not anyio's)."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:  # no super(): no 2nd pool
        self._pool = pool

    @property
    def pool(self) -> httpcore.AsyncConnectionPool:
        return self._pool


@dataclass(slots=True, eq=False)
class _KeptAlive:
    """A shared origin pool and how many probe runs hold it now: an evicted pool is closed
    only once no run holds it, so eviction never breaks a request in flight."""

    transport: PooledTransport
    users: int = 0
    evicted: bool = False


class HttpClientPool:
    """Transports for probes: one SSL context per TLS profile, shared by everything; fresh
    per-run pools by default; long-lived keep-alive pools per (profile, origin) for the checks
    with `reuse_connection: true`, at most `max_origins` of them (least recently used closed).

    Why a keep-alive pool per origin: httpcore's pool scans every pooled connection (with a
    readability poll each) on every request it queues or releases, and an idle-limit check
    inside that scan is quadratic, so one pool holding the connections of hundreds of hosts
    costs milliseconds of CPU per request. A pool per origin keeps each scan to that host's
    few connections, and sharing the SSL context keeps a new pool cheap (no CA load).

    `trust_env` is off by default: proxies and CA files come from configuration, not from
    whatever environment the agent was started in.
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        trust_env: bool = False,
        backend: AsyncioBackend | None = None,
        max_origins: int = MAX_ORIGINS,
        sweep_every: float = SWEEP_SECONDS,
    ) -> None:
        self._limits = limits
        self._sweep_every = sweep_every
        self._sweeper: asyncio.Task[None] | None = None
        self._trust_env = trust_env
        self._max_origins = max_origins
        self._contexts: dict[Profile, ssl.SSLContext] = {}
        self._kept: OrderedDict[_Key, _KeptAlive] = OrderedDict()
        self._backend = backend or AsyncioBackend()
        self._closing: set[asyncio.Task[None]] = set()

    def open(self, spec: HttpSpec) -> ProbeConnections:
        """The connections of one probe run of `spec`; `aclose()` them when the run ends."""
        return ProbeConnections(self, spec)

    def context(self, profile: Profile) -> ssl.SSLContext:
        context = self._contexts.get(profile)
        if context is None:
            context = self._contexts[profile] = ssl_context_for(profile)
        return context

    def fresh(self, spec: HttpSpec, proxy: str | None = None) -> PooledTransport:
        """A pool of its own for one run: its connections are new and die with the run."""
        return self._build(
            spec.tls_profile, spec.address_family, spec.named, keepalive=False, proxy=proxy
        )

    def lease(self, spec: HttpSpec, url: str, proxy: str | None = None) -> _KeptAlive:
        """The shared keep-alive pool of `url`'s origin (address family, server_name, through
        `proxy`), held until `release`."""
        # a connection made with the check's server_name must not serve another name's check
        named = spec.named
        if named is not None and _host(url) != named[0]:
            named = None
        key: _Key = (spec.tls_profile, _origin(url), spec.address_family, named, proxy)
        kept = self._kept.get(key)
        if kept is None:
            transport = self._build(key[0], key[2], named, keepalive=True, proxy=proxy)
            kept = self._kept[key] = _KeptAlive(transport)
            self._evict_beyond_cap()
        else:
            self._kept.move_to_end(key)
        kept.users += 1
        self._start_sweeping()
        return kept

    async def release(self, kept: _KeptAlive) -> None:
        kept.users -= 1
        if kept.evicted and kept.users == 0:
            await kept.transport.aclose()

    def _start_sweeping(self) -> None:
        if self._sweeper is not None or self._limits.keepalive_expiry is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # leased outside a loop (no connection yet): the next lease
            return
        self._sweeper = loop.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            await self.close_expired()

    async def close_expired(self) -> int:
        """Close the kept-alive connections idle past their expiry or closed by their server;
        how many. (No await yields before a close: a connection idle here is idle when it
        closes; httpcore gives a request that was to take it another.)"""
        closed = 0
        for kept in list(self._kept.values()):
            for connection in kept.transport.pool.connections:
                if connection.is_idle() and connection.has_expired():
                    await connection.aclose()
                    closed += 1
        return closed

    def _evict_beyond_cap(self) -> None:
        while len(self._kept) > self._max_origins:
            _, oldest = self._kept.popitem(last=False)
            oldest.evicted = True
            if oldest.users == 0:  # else the last run holding it closes it (`release`)
                task = asyncio.get_running_loop().create_task(oldest.transport.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    def _build(
        self,
        profile: Profile,
        family: Family,
        named: Named | None,
        *,
        keepalive: bool,
        proxy: str | None = None,
    ) -> PooledTransport:
        context = self.context(profile)
        backend = self._backend.for_family(*family)
        if proxy is not None:
            # ip_family picks the proxy's address (the proxy resolves the origin's name);
            # server_name goes in the origin's handshake inside the tunnel
            return PooledTransport(
                build_proxy_pool(
                    proxy,
                    context,
                    backend,
                    named=named,
                    max_connections=self._limits.max_connections,
                    max_keepalive_connections=self._limits.max_keepalive_connections,
                    keepalive_expiry=self._limits.keepalive_expiry if keepalive else None,
                )
            )
        return PooledTransport(
            httpcore.AsyncConnectionPool(
                ssl_context=context,
                max_connections=self._limits.max_connections,
                # a run's own pool keeps its connection for the redirects of its chain only
                max_keepalive_connections=self._limits.max_keepalive_connections,
                keepalive_expiry=self._limits.keepalive_expiry if keepalive else None,
                network_backend=backend,
            )
        )

    @property
    def origins(self) -> int:
        """Number of keep-alive origin pools held now."""
        return len(self._kept)

    def __len__(self) -> int:
        """Number of distinct TLS profiles in use."""
        return len(self._contexts)

    async def aclose(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        kept, self._kept = list(self._kept.values()), OrderedDict()
        for pool in kept:
            await pool.transport.aclose()
        await asyncio.gather(*self._closing, return_exceptions=True)


class ProbeConnections:
    """The transports one probe run uses, and their end: a fresh run closes its own pools, a
    keep-alive run releases the shared pools it held. `retry_transport` is a new connection
    for the one retry a keep-alive run gets when its reused connection died under it. With a
    `proxy`, each URL goes through it or, when `no_proxy` names its host, directly."""

    __slots__ = ("_fresh", "_held", "_pool", "_spec")

    def __init__(self, pool: HttpClientPool, spec: HttpSpec) -> None:
        self._pool = pool
        self._spec = spec
        self._fresh: dict[str | None, PooledTransport] = {}
        self._held: list[_KeptAlive] = []

    @property
    def reuses(self) -> bool:
        return bool(self._spec.reuse_connection)

    def proxy_for(self, url: httpx.URL | str) -> str | None:
        """The proxy `url` goes through, or None for a direct connection."""
        proxy = self._spec.proxy
        if proxy is None or not self._spec.no_proxy:
            return proxy
        host = httpx.URL(url).host
        return None if bypasses(host, self._spec.no_proxy) else proxy

    def for_url(self, url: httpx.URL | str) -> PooledTransport:
        proxy = self.proxy_for(url) if self._spec.proxy is not None else None
        if not self._spec.reuse_connection:
            return self._fresh_for(proxy)  # its one pool: the URL does not matter
        kept = self._pool.lease(self._spec, str(url), proxy)
        self._held.append(kept)
        return kept.transport

    def retry_transport(self, url: httpx.URL | str | None = None) -> PooledTransport:
        proxy = self.proxy_for(url) if url is not None and self._spec.proxy is not None else None
        return self._fresh_for(proxy)

    def _fresh_for(self, proxy: str | None) -> PooledTransport:
        fresh = self._fresh.get(proxy)
        if fresh is None:
            fresh = self._fresh[proxy] = self._pool.fresh(self._spec, proxy)
        return fresh

    async def aclose(self) -> None:
        fresh, self._fresh = list(self._fresh.values()), {}
        for transport in fresh:
            await transport.aclose()
        held, self._held = self._held, []
        for kept in held:
            await self._pool.release(kept)
