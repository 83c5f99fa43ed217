"""What every probe spec shares: the base model, the address family of the probes that connect,
and the option types and checks of more than one kind (TLS versions, URLs, host names,
regular expressions).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from checks.ip_family import IpFamily, literal_problem


def _cel(source: str) -> str:
    from checks.json_expr import compile_expression  # the CEL runtime loads only when used

    compile_expression(source)  # compiled once, here; the probe finds it in the cache
    return source


CelExpression = Annotated[str, AfterValidator(_cel)]


def _proxy(value: str) -> str:
    from checks.http_proxy import proxy_url

    return proxy_url(value)


ProxyUrl = Annotated[str, AfterValidator(_proxy)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddressFamily(Spec):
    """`ip_family` and `fallback` of the probes that connect (checks/ip_family.py: semantics)."""

    ip_family: IpFamily = "any"
    fallback: bool | None = None  # ip4/ip6 only; unset: false

    @model_validator(mode="after")
    def _fallback_needs_a_family(self) -> AddressFamily:
        if self.fallback is not None and self.ip_family == "any":
            raise ValueError("fallback needs ip_family ip4 or ip6 (any uses both families)")
        problem = literal_problem(self.family_target() or "", self.ip_family, self.fallback)
        if problem:
            raise ValueError(problem)
        return self

    def family_target(self) -> str | None:
        """The host whose addresses the family filters (a literal of the other family is an
        error at load)."""
        return None

    @property
    def ip_fallback(self) -> bool:
        return bool(self.fallback)


TlsVersion = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
TLS_VERSIONS: tuple[TlsVersion, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def version_range(low: str | None, high: str | None) -> None:
    if low and high and TLS_VERSIONS.index(high) < TLS_VERSIONS.index(low):
        raise ValueError(f"max_version {high} is below min_version {low}")


StartTls = Literal["smtp", "imap", "pop3", "ldap", "ftp"]

_SPACE = re.compile(r"\s")  # str.isspace's characters, in one C scan
HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+")


def http_url(value: str) -> str:
    """An absolute http(s) URL (RFC 3986: the scheme is case-insensitive, the host may be an
    IPv6 literal), returned with its scheme in lower case."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range or not a number
    except ValueError:
        parts = None
    scheme = parts.scheme.lower() if parts else ""
    if parts is None or scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if _SPACE.search(value):
        raise ValueError(f"{value!r} is not an http(s) URL (it contains white space)")
    return scheme + value[len(parts.scheme) :]


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def compilable(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
    return value
