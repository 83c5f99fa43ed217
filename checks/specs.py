"""Typed configuration of every probe kind, validated when the catalogue is built.

Each model is what one `checks/<kind>.py` module receives. Field names are the YAML keys. The
models live by kind (`checks/<kind>_spec.py`, the flat ones in `checks/flat_specs.py`, what
they share in `checks/spec_types.py`); this module names them all, maps each kind to its
model, and says which host a check talks to.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from checks.dns_spec import DnsSpec, Rcode, RecordRules
from checks.flat_specs import HeartbeatSpec, HostSpec, IcmpSpec, NagiosSpec
from checks.http_spec import (
    MAX_BODY_FILE,
    BasicAuth,
    ClientCert,
    HeaderRule,
    HeaderRules,
    HttpAuth,
    HttpSpec,
    OAuth2,
    TlsProfile,
    read_body_file,
)
from checks.scenario_spec import PLACEHOLDER, Capture, ScenarioSpec, ScenarioStep
from checks.spec_types import (
    TLS_VERSIONS,
    AddressFamily,
    CelExpression,
    ProxyUrl,
    Spec,
    StartTls,
    TlsVersion,
    http_url,
    is_ip,
)
from checks.tcp_spec import DialogueStep, TcpSpec
from checks.tls_spec import TlsSpec

__all__ = [
    "KINDS",
    "MAX_BODY_FILE",
    "PLACEHOLDER",
    "TLS_VERSIONS",
    "AddressFamily",
    "BasicAuth",
    "Capture",
    "CelExpression",
    "ClientCert",
    "DialogueStep",
    "DnsSpec",
    "HeaderRule",
    "HeaderRules",
    "HeartbeatSpec",
    "HostSpec",
    "HttpAuth",
    "HttpSpec",
    "IcmpSpec",
    "KindSpec",
    "NagiosSpec",
    "OAuth2",
    "ProxyUrl",
    "Rcode",
    "RecordRules",
    "ScenarioSpec",
    "ScenarioStep",
    "Spec",
    "StartTls",
    "TcpSpec",
    "TlsProfile",
    "TlsSpec",
    "TlsVersion",
    "http_url",
    "is_ip",
    "read_body_file",
    "target_host",
]

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
