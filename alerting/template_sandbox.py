"""The sandbox rule templates render in: plain views of the subject, bounded CPU and memory.

A template sees dictionaries of plain values, never catalogue objects: a `Check` holds its spec
(headers, tokens, passwords), and any object reachable from a template is one attribute walk
from `get_secret_value()`; `check.spec` is a plain dictionary of the target fields only.
Rendering is bounded: ranges, loop steps, repetition and powers are capped and the output is
cut at `MAX_OUTPUT`, so a rule file cannot take the agent's CPU or memory.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from agent.catalog.model import Check, Service
from checks.secrets import SECRETS, redacted_origin

MAX_RANGE = 1000  # items a template's range() may produce
MAX_STEPS = 100_000  # range items one render may walk in all (nested loops multiply)
MAX_OUTPUT = 4096  # characters of one rendered label or annotation
MAX_OPERAND = 10_000  # largest repeat count (`'x' * n`) and exponent (`n ** e`)


def _bounded(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(left: Any, right: Any) -> Any:
        for value in (left, right):
            if isinstance(value, int) and abs(value) > MAX_OPERAND:
                raise SecurityError(f"{name} operand over {MAX_OPERAND} refused in a template")
        return op(left, right)

    return call


_BINOPS = {"*": _bounded("*", operator.mul), "**": _bounded("**", operator.pow)}


_steps: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_steps")


def _range(*args: int) -> Iterator[int]:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range over {MAX_RANGE} items refused in a template")
    return _counted(result)


def _counted(items: range) -> Iterator[int]:
    budget = _steps.get([MAX_STEPS])
    for item in items:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError(f"more than {MAX_STEPS} loop steps refused in a template")
        yield item


class BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.globals["range"] = _range

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator in _BINOPS:
            return _BINOPS[operator](left, right)
        return super().call_binop(context, operator, left, right)


def render_bounded(template: Template, context: Mapping[str, Any]) -> str:
    """Render with a fresh step budget, output cut (and rendering stopped) past MAX_OUTPUT."""
    token = _steps.set([MAX_STEPS])
    try:
        return capped(template.generate(**context))
    finally:
        _steps.reset(token)


def capped(chunks: Iterator[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size > MAX_OUTPUT:
            return "".join(out)[:MAX_OUTPUT] + "…"
    return "".join(out)


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
