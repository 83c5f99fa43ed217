"""Typed configuration of every probe kind, validated when the catalogue is built.

Each model is what one `checks/<kind>.py` module receives. Field names are the YAML keys.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from checks.durations import Duration


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(Spec):
    username: str
    password: SecretStr


class HttpAuth(Spec):
    basic: BasicAuth | None = None
    bearer: SecretStr | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> HttpAuth:
        if (self.basic is None) == (self.bearer is None):
            raise ValueError("give exactly one of basic or bearer")
        return self


class ClientCert(Spec):
    cert: str
    key: str | None = None


class HttpSpec(Spec):
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    # headers and body may carry ${SECRET}s (Authorization, API keys): never in repr or logs
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    body: str | None = Field(default=None, repr=False)
    auth: HttpAuth | None = None
    client_cert: ClientCert | None = None
    ca_bundle: str | None = None
    verify: bool = True
    follow_redirects: bool = True
    max_redirects: int = Field(default=5, ge=0, le=20)
    expect_status: list[int] | None = None  # None: any 2xx
    body_contains: str | None = None
    body_regex: str | None = None
    body_not_contains: str | None = None  # an error page served with 200: DOWN
    body_not_regex: str | None = None
    json_: dict[str, Any] | None = Field(default=None, alias="json")  # {"$.status": "UP"}
    expect_headers: dict[str, str] = Field(default_factory=dict)  # header -> regex
    max_latency: Duration | None = None  # over it: degraded
    # the final URL of the chain: true, https (a downgrade fails); false, plain http
    require_tls: bool | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    static: bool = False  # page content should not change (defacement watch)
    expect_addresses: list[str] = Field(default_factory=list)  # SOC: answers only from these IPs
    # None: inherit (service -> tier -> defaults); the catalogue resolves it, unset is False
    reuse_connection: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

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

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https://")


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


class TcpSpec(Spec):
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


class TlsSpec(Spec):
    host: str
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None  # SNI and hostname to match; default: host
    min_days: int = Field(default=21, ge=0)  # below: degraded
    fingerprint_sha256: str | None = None  # pin, hex with or without colons
    min_version: Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    ca_bundle: str | None = None
    starttls: StartTls | None = None  # the certificate of a mail relay or a directory

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


class DnsSpec(Spec):
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


KindSpec = HttpSpec | TcpSpec | TlsSpec | DnsSpec | IcmpSpec | HeartbeatSpec | NagiosSpec | HostSpec

KINDS: dict[str, type[Spec]] = {
    "http": HttpSpec,
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
