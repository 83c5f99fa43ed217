"""Probe options a check inherits from its service, tier and `defaults` (`ProbeFields`):
`reuse_connection` and the proxy settings of http checks and scenario steps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.catalog.schema import ProbeFields, RawCatalog, RawService, RawTier
from checks.http_proxy import from_environment, proxy_url
from checks.specs import HttpSpec, ScenarioSpec


class EnvironmentProxyError(ValueError):
    """`proxy_from_env` met a proxy variable that is not an http(s) proxy URL."""


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    reuse_connection: bool
    proxy: str | None
    proxy_from_env: bool
    no_proxy: list[str] | None
    environ: Mapping[str, str]


def inherited(
    raw: RawCatalog,
    tier: RawTier | None,
    svc: RawService,
    environ: Mapping[str, str] | None,
) -> ProbeOptions:
    layers: list[ProbeFields] = [svc, *([tier] if tier else []), raw.defaults]

    def nearest(name: str) -> Any:
        return next((v for v in (getattr(x, name) for x in layers) if v is not None), None)

    return ProbeOptions(
        reuse_connection=bool(nearest("reuse_connection")),
        proxy=nearest("proxy"),
        proxy_from_env=bool(nearest("proxy_from_env")),
        no_proxy=nearest("no_proxy"),
        environ=os.environ if environ is None else environ,
    )


def with_inherited(spec: Any, options: ProbeOptions) -> Any:
    """An http spec (or each scenario step) with what it leaves unset taken from `options`,
    and `proxy_from_env` turned into a proxy and a no-proxy list at load."""
    if isinstance(spec, ScenarioSpec):
        steps = [with_inherited(step, options) for step in spec.steps]
        return spec.model_copy(update={"steps": steps})
    if not isinstance(spec, HttpSpec):
        return spec
    update: dict[str, Any] = {}
    if spec.reuse_connection is None:
        update["reuse_connection"] = options.reuse_connection
    proxy = spec.proxy or options.proxy
    no_proxy = spec.no_proxy if spec.no_proxy is not None else options.no_proxy
    from_env = spec.proxy_from_env if spec.proxy_from_env is not None else options.proxy_from_env
    if proxy is None and from_env:
        proxy, env_no_proxy = _from_environment(options.environ, spec.url)
        no_proxy = no_proxy if no_proxy is not None else env_no_proxy
    if proxy != spec.proxy:
        update["proxy"] = proxy
    if proxy is not None and no_proxy != spec.no_proxy:
        update["no_proxy"] = no_proxy
    return spec.model_copy(update=update) if update else spec


def _from_environment(environ: Mapping[str, str], url: str) -> tuple[str | None, list[str]]:
    proxy, no_proxy = from_environment(environ, url.partition(":")[0])
    if proxy is not None:
        try:
            proxy_url(proxy)
        except ValueError as bad:
            raise EnvironmentProxyError(f"proxy_from_env: {bad}") from None
    return proxy, no_proxy
