"""One line for what went wrong in an HTTP exchange: the transport error (refused, TLS, DNS,
reset, protocol), and which hop failed when a proxy was in the way."""

from __future__ import annotations

import socket
import ssl

import httpx

from checks.http_proxy import shown
from checks.ip_family import NoAddressOfFamily


def proxy_reason(error: httpx.HTTPError, reason: str, proxy: str) -> str:
    """Which hop failed: the proxy itself (refused, unreachable, its CONNECT answer) or the
    origin behind it."""
    if isinstance(error, httpx.ProxyError):  # httpcore: "407 Proxy Authentication Required"
        return f"proxy {shown(proxy)} refused the tunnel: {error}"
    if isinstance(error, httpx.ConnectError) and not reason.startswith("TLS"):
        return f"proxy {shown(proxy)}: {reason}"  # the TCP connection goes to the proxy
    return f"{reason} (via proxy {shown(proxy)})"


def describe_error(exc: BaseException, phase: str) -> str:
    """One line for a transport error: refused, TLS, DNS, reset, protocol. The socket's, the
    resolver's or TLS's own error is the cause of httpcore's (checks/http_backend.py) and is
    named by its type, never by its text (which differs between platforms and loops)."""
    for cause in _causes(exc):
        reason = _cause_reason(cause, phase)
        if reason is not None:
            return reason
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error {phase}: {text}"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {text}"
    return f"{type(exc).__name__} {phase}: {text}"


def _cause_reason(cause: BaseException, phase: str) -> str | None:
    if isinstance(cause, NoAddressOfFamily):
        return str(cause)
    if isinstance(cause, socket.gaierror):  # any EAI_*: unknown name, resolver down, ...
        return f"cannot resolve host: {cause}"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: {(cause.verify_message or cause.reason).rstrip('.')}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed: {_ssl_reason(cause)}"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return f"connection reset {phase}"
    return None


def _ssl_reason(error: ssl.SSLError) -> str:
    reason = error.reason or str(error)
    return reason.replace("_", " ").lower()


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
