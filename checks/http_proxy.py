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
from collections.abc import Mapping, Sequence
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
) -> httpcore.AsyncHTTPProxy:
    """httpcore's proxy pool on vigia's network backend: `context` judges the origin's TLS
    inside a CONNECT tunnel; an https proxy is itself verified with the system CAs."""
    parts = urlsplit(proxy)
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    port = f":{parts.port}" if parts.port else ""
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return httpcore.AsyncHTTPProxy(
        proxy_url=f"{parts.scheme.lower()}://{host}{port}/",
        proxy_auth=auth,
        ssl_context=context,
        proxy_ssl_context=_system_context() if parts.scheme.lower() == "https" else None,
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=keepalive_expiry,
        network_backend=backend,
    )
