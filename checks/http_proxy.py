"""Forward proxies for the http probe: `proxy`, `no_proxy`, `proxy_from_env`.

A plain-http target is asked through the proxy in absolute form; an https target through a
CONNECT tunnel, so the TLS handshake (and the certificate the probe judges) is the origin's,
end to end. Credentials come from the proxy URL's user part (`http://user:${PASS}@proxy:3128`)
and go as `Proxy-Authorization: Basic`; no reason, log line or measurement shows them: a proxy
is named by its scheme, host and port only.

A check without `proxy` never reaches this module (checks/http_clients.py tests one attribute),
so proxies cost nothing where none is configured.
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore

from checks.secrets import redacted_origin


def proxy_url(value: str) -> str:
    """An http(s) proxy URL: scheme, optional user:password, host, optional port, no path."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{redacted_origin(value)!r} is not an http(s) proxy URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{redacted_origin(value)!r}: a proxy URL has no path or query")
    return value


def shown(proxy: str) -> str:
    """How reasons name the proxy: scheme://host:port, never its credentials."""
    return redacted_origin(proxy)


def bypasses(host: str, no_proxy: Sequence[str]) -> bool:
    """Whether `host` is reached directly, as curl reads NO_PROXY: `*` for every host, a name
    for itself and its subdomains (a leading dot is optional), an address or a CIDR block for
    the literal addresses in it."""
    host = host.strip("[]").rstrip(".").lower()
    address = _address(host)
    for entry in no_proxy:
        rule = entry.strip().lower()
        if rule == "*":
            return True
        if "/" in rule or _address(rule) is not None:  # an address or a block of them
            if address is not None and _in_block(address, rule):
                return True
            continue
        name = rule.lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _in_block(address: ipaddress.IPv4Address | ipaddress.IPv6Address, rule: str) -> bool:
    try:
        return address in ipaddress.ip_network(rule.strip("[]"), strict=False)
    except ValueError:
        return False


def from_environment(environ: Mapping[str, str], scheme: str) -> tuple[str | None, list[str]]:
    """The proxy and no-proxy list the environment gives for `scheme` URLs (HTTPS_PROXY or
    HTTP_PROXY, then ALL_PROXY; lower-case names first, as curl reads them)."""
    names = ("https_proxy", "all_proxy") if scheme == "https" else ("http_proxy", "all_proxy")
    proxy = next((v for n in names for v in _both(environ, n) if v), None)
    no_proxy = next((v for v in _both(environ, "no_proxy") if v), "")
    return proxy, [e.strip() for e in no_proxy.split(",") if e.strip()]


def _both(environ: Mapping[str, str], name: str) -> list[str]:
    return [environ.get(name, ""), environ.get(name.upper(), "")]


@functools.cache
def _system_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # ~23 ms (the CA load): once


def build_proxy_pool(
    proxy: str,
    context: ssl.SSLContext,
    backend: httpcore.AsyncNetworkBackend,
    *,
    max_connections: int | None,
    max_keepalive_connections: int | None,
    keepalive_expiry: float | None,
    named: tuple[str, str] | None = None,
) -> httpcore.AsyncHTTPProxy:
    """httpcore's proxy pool on vigia's network backend: `context` judges the origin's TLS
    inside a CONNECT tunnel; an https proxy is itself verified with the system CAs. `named`
    (host, server_name): the origin `host` is asked by `server_name` in its handshake."""
    parts = urlsplit(proxy)
    https_proxy = parts.scheme.lower() == "https"
    if named is not None:
        backend = _NamedOrigin(backend, named, https_proxy)
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    port = f":{parts.port}" if parts.port else ""
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return _Proxy(
        proxy_url=f"{parts.scheme.lower()}://{host}{port}/",
        proxy_auth=auth,
        ssl_context=context,
        proxy_ssl_context=_system_context() if https_proxy else None,
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=keepalive_expiry,
        network_backend=backend,
    )


class _Proxy(httpcore.AsyncHTTPProxy):
    """httpcore's proxy pool, but a request's `sni_hostname` (the check's `server_name`) never
    reaches the proxy: httpcore would send it in an https proxy's own handshake. The origin's
    handshake gets it from `_NamedOrigin`."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if "sni_hostname" in request.extensions:  # a fresh httpcore.Request per send: ours
            request.extensions = {
                k: v for k, v in request.extensions.items() if k != "sni_hostname"
            }
        return await super().handle_async_request(request)


class _NamedOrigin(httpcore.AsyncNetworkBackend):
    """The backend of a proxy pool whose check has a `server_name`: httpcore's CONNECT tunnel
    starts the origin's TLS with the origin's host name (it reads no `sni_hostname`), so the
    streams put the check's name in that handshake when the host is the check's own."""

    def __init__(
        self, backend: httpcore.AsyncNetworkBackend, named: tuple[str, str], https_proxy: bool
    ) -> None:
        self._backend = backend
        self._named = named
        self._https_proxy = https_proxy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        # an https proxy's own handshake comes first, by the proxy's name
        return _NamedStream(stream, self._named, proxy_handshakes=int(self._https_proxy))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _NamedStream(httpcore.AsyncNetworkStream):
    """A stream whose origin handshake asks for `named`'s server name; the rest is the inner
    stream's (its `family` and `fell_back` included, which the probe's trace reads)."""

    def __init__(
        self, stream: httpcore.AsyncNetworkStream, named: tuple[str, str], proxy_handshakes: int
    ) -> None:
        self._stream = stream
        self._named = named
        self._proxy_handshakes = proxy_handshakes
        self.family: str = getattr(stream, "family", "")
        self.fell_back: bool = getattr(stream, "fell_back", False)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._proxy_handshakes:
            inner = await self._stream.start_tls(ssl_context, server_hostname, timeout)
            return _NamedStream(inner, self._named, self._proxy_handshakes - 1)
        host, name = self._named
        if server_hostname is not None and server_hostname.lower() == host:
            server_hostname = name
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
