"""What rule templates see: plain views of the subject (the bounds are in template_bounds).

A template sees dictionaries of plain values, never catalogue objects: a `Check` holds its spec
(headers, tokens, passwords), and any object reachable from a template is one attribute walk
from `get_secret_value()`; `check.spec` is a plain dictionary of the target fields only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent.catalog.model import Check, Service
from checks.secrets import SECRETS, redacted_origin


def check_view(check: Check | None) -> dict[str, Any] | None:
    """What a template may know of a check: its names and a credential-free target."""
    if check is None:
        return None
    return {
        "id": check.id,
        "name": check.name,
        "service": check.service,
        "kind": check.kind,
        "target": _target(check),
        "spec": _plain_spec(check),
        "interval": check.interval,
        "timeout": check.timeout,
    }


# the spec fields rules may name (the default rules do); never auth, headers, body, command, env
_PLAIN_FIELDS = ("host", "port", "name", "type", "resolver", "expect_addresses", "method")


def _plain_spec(check: Check) -> dict[str, Any]:
    spec = check.spec
    plain = {f: _plain(getattr(spec, f)) for f in _PLAIN_FIELDS if hasattr(spec, f)}
    url = getattr(spec, "url", None)
    if isinstance(url, str):
        plain["url"] = SECRETS.mask(_without_credentials(url))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return SECRETS.mask(value) if isinstance(value, str) else value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _without_credentials(url: str) -> str:
    """The URL without userinfo, query and fragment (where credentials travel)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redacted_origin(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _target(check: Check) -> str:
    spec = check.spec
    url = getattr(spec, "url", None)
    if isinstance(url, str):
        return redacted_origin(url)
    host = getattr(spec, "host", None) or getattr(spec, "name", None)
    port = getattr(spec, "port", None)
    if isinstance(host, str):
        return f"{host}:{port}" if isinstance(port, int) else host
    return ""  # a plugin's argv or a heartbeat: nothing safe to show


def service_view(service: Service | None) -> dict[str, Any] | None:
    if service is None:
        return None
    return {
        "id": service.id,
        "name": service.name,
        "macro_service": service.macro_service,
        "tier": service.tier,
        "pcn": service.pcn,
        "owner": service.owner,
        "monitored": service.monitored,
        "depends_on": list(service.depends_on),
        "labels": dict(service.labels),
        "checks": [check_view(c) for c in service.checks],
    }
