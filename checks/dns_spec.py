"""Options of a dns check: the question, the resolver, and the rules on its answer
(checks/dns.py, checks/dns_rules.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from checks.spec_types import HOST_NAME, AddressFamily, Spec, compilable, is_ip

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
            compilable(pattern)
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
    # one, or the several that pass (one is read as a list of one); a pydantic field, so the
    # list default is copied for each model (ruff cannot see the BaseModel behind AddressFamily)
    expect_rcode: Annotated[list[Rcode], BeforeValidator(_listed)] = ["NOERROR"]  # noqa: RUF012
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
        return compilable(value)

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
        if value is not None and not (is_ip(value) or HOST_NAME.fullmatch(value)):
            raise ValueError(f"{value!r} is neither an IP address nor a host name")
        return value
