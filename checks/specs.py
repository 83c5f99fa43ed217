"""Typed configuration of every probe kind, validated when the catalogue is built.

Each model is what one `checks/<kind>.py` module receives. Field names are the YAML keys.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from checks.durations import Duration
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


TlsVersion = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
TLS_VERSIONS: tuple[TlsVersion, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def _version_range(low: str | None, high: str | None) -> None:
    if low and high and TLS_VERSIONS.index(high) < TLS_VERSIONS.index(low):
        raise ValueError(f"max_version {high} is below min_version {low}")


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
        return _compilable(value) or value


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
        _version_range(self.min_version, self.max_version)
        return self

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_NAME.fullmatch(value):
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
        return _compilable(value)

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


_STEP_NAME = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"
_CAPTURE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # {{name}}


class Capture(Spec):
    """A value a scenario step takes from its answer for the steps after it: a header (or a
    group of a regex on it), a group of a regex on the body, or a JSON path's value."""

    header: str | None = None
    json_: str | None = Field(default=None, alias="json")
    body_regex: str | None = None
    regex: str | None = None  # on the header: its first group (or the whole match) is taken

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("body_regex", "regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _compilable(value)

    @field_validator("json_")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$"):
            raise ValueError(f"{value!r} is not a JSON path (start it with '$')")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        sources = [s for s in (self.header, self.json_, self.body_regex) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of header, json or body_regex")
        if self.regex is not None and self.header is None:
            raise ValueError("regex applies to a header: use body_regex for the body")
        return self

    @property
    def reads_body(self) -> bool:
        return self.header is None


class ScenarioStep(HttpSpec):
    """One request of a scenario: an http check's options, a name, what it captures. Its url
    (path and query), headers and body may use `{{name}}` for a value an earlier step
    captured."""

    name: str = Field(pattern=_STEP_NAME, max_length=64)
    capture: dict[Annotated[str, Field(pattern=_CAPTURE_NAME)], Capture] = Field(
        default_factory=dict
    )

    def placeholders(self) -> list[tuple[str, str]]:
        """(field, name) of every `{{name}}` the step uses."""
        texts = [("url", self.url), ("body", self.body or "")]
        texts += [(f"headers.{k}", v) for k, v in self.headers.items()]
        return [(where, m.group(1)) for where, text in texts for m in PLACEHOLDER.finditer(text)]


class ScenarioSpec(Spec):
    """Ordered requests sharing a cookie jar and captured values; fails at the first failing
    step (checks/scenario.py)."""

    steps: list[ScenarioStep] = Field(min_length=1, max_length=20)

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(path under the spec, message) of each duplicate step name and each `{{name}}` no
        earlier step captures; the catalogue reports them with their lines."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        names: set[str] = set()
        captured: set[str] = set()
        for position, step in enumerate(self.steps):
            if step.name in names:
                found.append((("steps", position, "name"), f"duplicate step name {step.name!r}"))
            names.add(step.name)
            for where, name in step.placeholders():
                if name in captured:
                    continue
                path: tuple[str | int, ...] = ("steps", position, *where.split(".", 1))
                found.append((path, f"{{{{{name}}}}} is not captured by an earlier step"))
            captured.update(step.capture)
        return found


StartTls = Literal["smtp", "imap", "pop3", "ldap", "ftp"]
_CAPTURE = re.compile(r"\$\{(\d+)\}")  # `${1}` in a send; `${NAME}` is a secret (yamlsource)


class DialogueStep(Spec):
    """One step of a tcp dialogue: wait for a line matching `expect`, then `send` (which may
    use the match's groups as `${1}`, `${0}` the whole match), then upgrade to TLS."""

    expect: str | None = None  # a regex, tried on each line received (checks/dialogue.py)
    send: str | None = Field(default=None, repr=False)  # sent as written; may carry a secret
    starttls: bool = False  # after this step's send: the TLS handshake on this connection
    timeout: Duration | None = None  # this step's own limit; default: the check's step_timeout

    @field_validator("expect")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _compilable(value)

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a step timeout must be above 0")
        return value

    @model_validator(mode="after")
    def _does_something(self) -> DialogueStep:
        if self.expect is None and self.send is None and not self.starttls:
            raise ValueError("a step needs expect, send or starttls")
        return self


class TcpSpec(AddressFamily):
    host: str
    port: int = Field(ge=1, le=65535)
    send: str | None = Field(default=None, repr=False)  # may carry a secret
    expect: str | None = None  # substring of the banner/answer
    steps: list[DialogueStep] = Field(default_factory=list, max_length=64)
    step_timeout: Duration | None = None  # each step's limit, within the check's timeout
    tls: bool = False  # TLS from the first byte
    starttls: StartTls | None = None  # the protocol's STARTTLS exchange, then TLS
    server_name: str | None = None  # SNI and the name the certificate must match; default host
    ca_bundle: str | None = None
    verify: bool = True  # false: any certificate (still read and reported)

    @field_validator("step_timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("step_timeout must be above 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TcpSpec:
        if self.steps and (self.send is not None or self.expect is not None):
            raise ValueError("give either send/expect or steps, not both")
        if self.tls and self.starttls:
            raise ValueError("give either tls: true (TLS from the start) or starttls, not both")
        upgrades = self.tls or self.starttls or any(step.starttls for step in self.steps)
        given = [k for k in ("server_name", "ca_bundle") if getattr(self, k) is not None]
        if not self.verify:
            given.append("verify")
        if given and not upgrades:
            needs = "only with tls: true, starttls or a starttls step"
            raise ValueError(f"{', '.join(given)}: {needs}")
        if (self.tls or self.starttls) and any(step.starttls for step in self.steps):
            raise ValueError("a starttls step on a connection that is already TLS")
        _check_captures(self.steps)
        return self

    def family_target(self) -> str | None:
        return self.host


def _check_captures(steps: list[DialogueStep]) -> None:
    """A `${N}` in a send must name a group of the latest expect before it (or its own)."""
    groups: int | None = None
    for index, step in enumerate(steps):
        if step.expect is not None:
            groups = re.compile(step.expect).groups
        for wanted in _CAPTURE.findall(step.send or ""):
            where = f"steps[{index}].send uses ${{{wanted}}}"
            if groups is None:
                raise ValueError(f"{where} but no step before it has an expect")
            if int(wanted) > groups:
                raise ValueError(f"{where} but the latest expect has {groups} group(s)")


class TlsSpec(AddressFamily):
    host: str
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None  # SNI and hostname to match; default: host
    min_days: int = Field(default=21, ge=0)  # below: degraded
    fingerprint_sha256: str | None = None  # pin, hex with or without colons
    min_version: TlsVersion = "TLSv1.2"
    # the newest version offered; below min_version: a second handshake that must be refused
    max_version: TlsVersion | None = None
    ca_bundle: str | None = None
    starttls: StartTls | None = None  # the certificate of a mail relay or a directory

    def family_target(self) -> str | None:
        return self.host

    @field_validator("fingerprint_sha256")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        clean = value.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", clean):
            raise ValueError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits)")
        return clean


Rcode = Literal[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "BADVERS",
]  # fmt: skip


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class RecordRules(Spec):
    """blackbox_exporter's rules on one section's records, each record in its text form
    `name<TAB>ttl<TAB>class<TAB>type<TAB>data` (checks/dns_rules.py)."""

    fail_if_matches_regexp: list[str] = Field(default_factory=list)  # no record may match
    fail_if_not_matches_regexp: list[str] = Field(default_factory=list)  # every record must
    fail_if_all_match_regexp: list[str] = Field(default_factory=list)  # not every record may
    fail_if_none_matches_regexp: list[str] = Field(default_factory=list)  # one record must

    @field_validator("*")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            _compilable(pattern)
        return value

    @property
    def configured(self) -> bool:
        return any(getattr(self, name) for name in type(self).model_fields)


class DnsSpec(AddressFamily):
    name: str
    type: Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA"] = "A"
    resolver: str | None = None  # IP address or host name; None: the system resolver
    port: int | None = Field(default=None, ge=1, le=65535)  # None: 53, or 853 over TLS
    protocol: Literal["udp", "tcp", "tls"] = "udp"  # tls: DNS over TLS (RFC 7858)
    server_name: str | None = None  # tls: the name the resolver's certificate must match
    ca_bundle: str | None = None  # tls: the CAs to trust
    # one, or the several that pass (one is read as a list of one)
    expect_rcode: Annotated[list[Rcode], BeforeValidator(_listed)] = ["NOERROR"]
    recursion_desired: bool = True  # the RD flag; false asks an authoritative server only
    expect_answers: list[str] | None = None  # exact set
    answer_regex: str | None = None  # every answer must match
    # factories: pydantic deep-copies a model default for every check (a third of a dns
    # check's validation in a big catalogue)
    validate_answer_rrs: RecordRules = Field(default_factory=RecordRules)
    validate_authority_rrs: RecordRules = Field(default_factory=RecordRules)
    validate_additional_rrs: RecordRules = Field(default_factory=RecordRules)

    def family_target(self) -> str | None:
        return self.resolver

    @field_validator("answer_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _compilable(value)

    @field_validator("expect_rcode")
    @classmethod
    def _some_rcode(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one rcode")
        return value

    @model_validator(mode="after")
    def _tls_options(self) -> DnsSpec:
        given = [k for k in ("server_name", "ca_bundle") if getattr(self, k) is not None]
        if given and self.protocol != "tls":
            raise ValueError(f"{', '.join(given)}: only with protocol: tls")
        return self

    @property
    def valid_rcodes(self) -> tuple[str, ...]:
        return tuple(self.expect_rcode)

    @property
    def server_port(self) -> int:
        return self.port or (853 if self.protocol == "tls" else 53)

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None and not (is_ip(value) or _HOST_NAME.fullmatch(value)):
            raise ValueError(f"{value!r} is neither an IP address nor a host name")
        return value


class IcmpSpec(Spec):
    host: str
    count: int = Field(default=3, ge=1, le=20)
    interval: Duration = 0.2
    max_loss_ratio: float = Field(default=0.0, ge=0, le=1)  # above: degraded; all lost: fail
    max_rtt: Duration | None = None  # above: degraded
    privileged: bool = False


class HeartbeatSpec(Spec):
    max_silence: Duration
    token: SecretStr | None = None


class NagiosSpec(Spec):
    command: list[str] = Field(min_length=1, repr=False)  # argv, never a shell; may hold secrets
    env: dict[str, str] = Field(default_factory=dict, repr=False)


class HostSpec(Spec):
    resource: Literal["cpu", "memory", "disk", "process", "port"]
    warn_percent: float | None = Field(default=None, ge=0, le=100)  # above: degraded
    crit_percent: float | None = Field(default=None, ge=0, le=100)  # above: fail
    path: str = "/"  # disk
    process: str | None = None  # process name
    port: int | None = Field(default=None, ge=1, le=65535)  # a local port listening

    @model_validator(mode="after")
    def _needs(self) -> HostSpec:
        if self.resource == "process" and not self.process:
            raise ValueError("resource 'process' needs 'process' (the process name)")
        if self.resource == "port" and self.port is None:
            raise ValueError("resource 'port' needs 'port'")
        return self


KindSpec = (
    HttpSpec
    | ScenarioSpec
    | TcpSpec
    | TlsSpec
    | DnsSpec
    | IcmpSpec
    | HeartbeatSpec
    | NagiosSpec
    | HostSpec
)

KINDS: dict[str, type[Spec]] = {
    "http": HttpSpec,
    "scenario": ScenarioSpec,
    "tcp": TcpSpec,
    "tls": TlsSpec,
    "dns": DnsSpec,
    "icmp": IcmpSpec,
    "heartbeat": HeartbeatSpec,
    "nagios": NagiosSpec,
    "host": HostSpec,
}


def target_host(spec: KindSpec) -> str | None:
    """The host a probe talks to, for per-host concurrency caps."""
    if isinstance(spec, HttpSpec):
        return urlsplit(spec.url).hostname
    if isinstance(spec, ScenarioSpec):
        return urlsplit(spec.steps[0].url).hostname
    if isinstance(spec, TcpSpec | TlsSpec | IcmpSpec):
        return spec.host
    if isinstance(spec, DnsSpec):
        return spec.resolver
    return None


_SPACE = re.compile(r"\s")  # str.isspace's characters, in one C scan
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+")


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


def _compilable(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
    return value
