"""Options of an http check: the request, its authentication and TLS, and the rules its answer
is judged by (checks/http.py). Values the probe needs on every run are derived once per spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import httpx
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from checks.durations import Duration
from checks.ip_family import IpFamily
from checks.spec_types import (
    HOST_NAME,
    AddressFamily,
    CelExpression,
    ProxyUrl,
    Spec,
    TlsVersion,
    compilable,
    http_url,
    version_range,
)


class BasicAuth(Spec):
    username: str
    password: SecretStr


def _scope(scope: str) -> str:
    # RFC 6749 3.3: scopes are space-delimited tokens of printable ASCII but " and \
    if not scope or not all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in scope):
        raise ValueError(f"{scope!r} is not an OAuth2 scope")
    return scope


class OAuth2(Spec):
    """Client credentials (RFC 6749 4.4): the probe asks `token_url` for a bearer token."""

    token_url: str
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scopes: list[Annotated[str, AfterValidator(_scope)]] = Field(default_factory=list)
    audience: str | None = None  # some providers (Auth0, Keycloak) want the API named
    client_auth: Literal["basic", "body"] = "basic"  # how the client authenticates

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        for scope in value:  # RFC 6749 3.3: space-delimited, printable ASCII but " and \
            if not scope or not all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in scope):
                raise ValueError(f"{scope!r} is not an OAuth2 scope")
        return value


class HttpAuth(Spec):
    basic: BasicAuth | None = None
    bearer: SecretStr | None = None
    oauth2: OAuth2 | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> HttpAuth:
        given = [s for s in (self.basic, self.bearer, self.oauth2) if s is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of basic, bearer or oauth2")
        return self


class ClientCert(Spec):
    cert: str
    key: str | None = None


class HeaderRule(Spec):
    """A rule on one response header: a regex for its values, and whether its absence passes.

    As blackbox_exporter's `fail_if_header_[not_]matches`: each value of a repeated header is
    matched on its own, and a missing header fails unless `allow_missing` is true."""

    regex: str
    allow_missing: bool = False

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        return compilable(value) or value


def _header_rule(value: Any) -> Any:
    # `X-Frame-Options: DENY` is shorthand for `{regex: DENY}`; anything else is validated
    # as a HeaderRule, so a wrong type is reported at the header's own path
    if isinstance(value, str):
        return {"regex": value}
    if not isinstance(value, dict | HeaderRule):
        raise ValueError(f"{value!r} is not a header rule (a regex, or {{regex, allow_missing}})")
    return value


# RFC 9110 5.6.2: a header name is a token
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a header name")
    return name


HeaderRules = dict[
    Annotated[str, AfterValidator(_header_name)],
    Annotated[HeaderRule, BeforeValidator(_header_rule)],
]


# verify, ca_bundle, client cert, client key, min_version, max_version
TlsProfile = tuple[bool, str | None, str | None, str | None, str | None, str | None]


class HttpSpec(AddressFamily):
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    # headers and body may carry ${SECRET}s (Authorization, API keys): never in repr or logs
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    body: str | None = Field(default=None, repr=False)
    body_file: str | None = None  # the request body, read from this file at load
    auth: HttpAuth | None = None
    client_cert: ClientCert | None = None
    ca_bundle: str | None = None
    verify: bool = True
    # TLS of the URL's own host (a redirect to another host gets that host's own name)
    server_name: str | None = None  # SNI and the name the certificate must match
    min_version: TlsVersion | None = None  # None: the system's floor (TLS 1.2 on OpenSSL 3)
    max_version: TlsVersion | None = None  # the newest version the client offers
    follow_redirects: bool = True
    max_redirects: int = Field(default=5, ge=0, le=20)
    expect_status: list[int] | None = None  # None: any 2xx
    body_contains: str | None = None
    body_regex: str | None = None
    body_not_contains: str | None = None  # an error page served with 200: DOWN
    body_not_regex: str | None = None
    json_: dict[str, Any] | None = Field(default=None, alias="json")  # {"$.status": "UP"}
    # CEL conditions on the JSON answer, each must be true (checks/json_expr.py)
    expect_json: list[CelExpression] = Field(default_factory=list)
    expect_headers: HeaderRules = Field(default_factory=dict)  # a value must match
    forbid_headers: HeaderRules = Field(default_factory=dict)  # no value may match
    max_latency: Duration | None = None  # over it: degraded
    # the final URL of the chain: true, https (a downgrade fails); false, plain http
    require_tls: bool | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    static: bool = False  # page content should not change (defacement watch)
    expect_addresses: list[str] = Field(default_factory=list)  # SOC: answers only from these IPs
    # None: inherit (service -> tier -> defaults); the catalogue resolves it, unset is False
    reuse_connection: bool | None = None
    # a forward proxy (checks/http_proxy.py); None: inherit, the catalogue resolves all three
    proxy: ProxyUrl | None = Field(default=None, repr=False)  # may hold ${SECRET} credentials
    proxy_from_env: bool | None = None  # HTTP(S)_PROXY / NO_PROXY of the agent's environment
    no_proxy: list[str] | None = None  # hosts, domains, addresses or CIDRs reached directly

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _file_body: bytes | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _versions(self) -> HttpSpec:
        version_range(self.min_version, self.max_version)
        return self

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        if value is not None and not HOST_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name")
        return value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int] | None) -> list[int] | None:
        for status in value or []:
            if not 100 <= status <= 599:
                raise ValueError(f"{status!r} is not an HTTP status")
        return value

    @field_validator("body_regex", "body_not_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return compilable(value)

    @field_validator("json_")
    @classmethod
    def _json_paths(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path in value or {}:
            if not path.startswith("$"):
                raise ValueError(f"{path!r} is not a JSON path (start it with '$')")
        return value

    @field_validator("body_file")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            read_body_file(value)  # here, so a missing file's error names `body_file`
        return value

    @model_validator(mode="after")
    def _body_from_file(self) -> HttpSpec:
        if self.body_file is not None:
            if self.body is not None:
                raise ValueError("give body or body_file, not both")
            self._file_body = read_body_file(self.body_file)
        return self

    # --- derived from the spec alone, once: a probe reads them on every run ----------------
    # `cached_property` keeps each in the instance's __dict__ after its first use, a plain
    # attribute from then on (a pydantic private attribute costs a `__getattr__` per read);
    # `model_copy` drops them, for a copy with other fields (a scenario step's filled-in url).

    @cached_property
    def content(self) -> bytes | None:
        """The request body: `body`, or what `body_file` held when the catalogue loaded."""
        if self.body is not None:
            return self.body.encode()
        return self._file_body if self.body_file is not None else None

    @cached_property
    def request_url(self) -> httpx.URL:
        """`url` as httpx parses it for each request (immutable, so one per spec)."""
        return httpx.URL(self.url)

    @cached_property
    def host(self) -> str:
        """The URL's host in lower case."""
        return (urlsplit(self.url).hostname or "").lower()

    @cached_property
    def named(self) -> tuple[str, str] | None:
        """(host, server_name) when the check asks its own host by another name."""
        if not self.server_name or not self.host:
            return None
        return (self.host, self.server_name)

    @cached_property
    def tls_profile(self) -> TlsProfile:
        """What the SSL context of the spec's connections depends on."""
        cert = self.client_cert
        return (
            self.verify,
            self.ca_bundle,
            cert.cert if cert else None,
            cert.key if cert else None,
            self.min_version,
            self.max_version,
        )

    @cached_property
    def address_family(self) -> tuple[IpFamily, bool]:
        """ip_family, fallback: which addresses the connections may use."""
        return (self.ip_family, self.ip_fallback)

    @cached_property
    def body_conditions(self) -> bool:
        """Whether a condition reads the body's text."""
        return bool(
            self.body_contains
            or self.body_regex
            or self.body_not_contains
            or self.body_not_regex
            or self.json_
            or self.expect_json
        )

    @cached_property
    def reads_body(self) -> bool:
        """Whether the verdict reads the body. Without a body condition it is judged on the
        status and headers alone and the body is never read: a large page is not an outage,
        and costs nothing (blackbox_exporter reads it whole)."""
        return self.body_conditions or self.static

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copied.__dict__.pop(name, None)
        return copied

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https://")

    def family_target(self) -> str | None:
        return urlsplit(self.url).hostname


_DERIVED = tuple(
    name for name, value in vars(HttpSpec).items() if isinstance(value, cached_property)
)

MAX_BODY_FILE = 1_048_576  # bytes


def read_body_file(path: str) -> bytes:
    """The file's bytes, read once (a missing file is a load error, not a failing probe)."""
    try:
        with open(path, "rb") as file:
            content = file.read(MAX_BODY_FILE + 1)
    except OSError as exc:
        raise ValueError(f"cannot read body_file {path!r}: {exc.strerror or exc}") from None
    if len(content) > MAX_BODY_FILE:
        raise ValueError(f"body_file {path!r} is larger than {MAX_BODY_FILE} bytes")
    return content
