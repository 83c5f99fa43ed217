"""Resolution of a validated catalogue into the model: every value inherited defaults -> tier
-> service -> check, checks named, probe options and locations resolved."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.catalog.locations import locations_of, quorum_of
from agent.catalog.model import Catalog, Check, MaintenanceRule, Service, Tier, Timing
from agent.catalog.probe_options import ProbeOptions, inherited, with_inherited
from agent.catalog.schema import PolicyFields, RawCatalog, RawCheck, RawService, RawTier
from agent.locations.quorum import majority

BUILTIN_TIERS: dict[str, str] = {  # tier -> alert severity; timing comes from `defaults`
    "platina": "critical",
    "ouro": "major",
    "prata": "minor",
    "bronze": "warning",
}
BUILTIN_DEFAULTS = {
    "interval": 60.0,
    "timeout": 10.0,
    "confirm_down": 3,
    "confirm_up": 2,
    "merge_within": 0.0,
    "flap_start": 20.0,
    "flap_stop": 5.0,
}


def resolve(
    raw: RawCatalog,
    source_path: Path | None,
    known: tuple[str, ...],
    environ: Mapping[str, str] | None,
) -> Catalog:
    base = _inherit(dict(BUILTIN_DEFAULTS), raw.defaults)
    tiers = {name: _tier(name, base, raw.tiers.get(name)) for name in {*BUILTIN_TIERS, *raw.tiers}}
    services = tuple(_service(svc, tiers[svc.tier], raw, known, environ) for svc in raw.services)
    return Catalog(version=raw.version, tiers=tiers, services=services, source=source_path)


def _inherit(values: dict[str, Any], layer: PolicyFields | RawCheck | None) -> dict[str, Any]:
    if layer is None:
        return values
    overrides = {k: getattr(layer, k, None) for k in values}
    return {**values, **{k: v for k, v in overrides.items() if v is not None}}


def _timing(values: dict[str, Any]) -> Timing:
    return Timing(
        interval=float(values["interval"]),
        timeout=float(values["timeout"]),
        confirm_down=int(values["confirm_down"]),
        confirm_up=int(values["confirm_up"]),
    )


def _tier(name: str, base: dict[str, Any], raw: RawTier | None) -> Tier:
    values = _inherit(dict(base), raw)
    severity = (raw.severity if raw else None) or BUILTIN_TIERS.get(name, "warning")
    return Tier(
        name=name,
        timing=_timing(values),
        severity=severity,
        merge_within=float(values["merge_within"]),
        flap_start=float(values["flap_start"]),
        flap_stop=float(values["flap_stop"]),
    )


def _tier_values(tier: Tier) -> dict[str, Any]:
    t = tier.timing
    return {
        "interval": t.interval,
        "timeout": t.timeout,
        "confirm_down": t.confirm_down,
        "confirm_up": t.confirm_up,
        "merge_within": tier.merge_within,
        "flap_start": tier.flap_start,
        "flap_stop": tier.flap_stop,
    }


def _service(
    svc: RawService,
    tier: Tier,
    raw: RawCatalog,
    known: tuple[str, ...],
    environ: Mapping[str, str] | None,
) -> Service:
    values = _inherit(_tier_values(tier), svc)
    timing = _timing(values)
    raw_tier = raw.tiers.get(svc.tier)
    options = inherited(raw, raw_tier, svc, environ)
    checks = tuple(
        _check(svc.id, check, name, timing, options, _where(raw, raw_tier, svc, check, known))
        for check, name in named(svc.checks)
    )
    return Service(
        id=svc.id,
        name=svc.name,
        macro_service=svc.macro_service,
        tier=svc.tier,
        pcn=svc.pcn,
        owner=svc.owner,
        monitored=svc.monitored,
        depends_on=tuple(svc.depends_on),
        maintenance=tuple(
            MaintenanceRule(m.cron, m.duration, m.timezone, m.reason) for m in svc.maintenance
        ),
        timing=timing,
        merge_within=float(values["merge_within"]),
        flap_start=float(values["flap_start"]),
        flap_stop=float(values["flap_stop"]),
        checks=checks,
        labels=dict(svc.labels),
        public=svc.public,
        public_name=svc.public_name,
    )


def _where(
    raw: RawCatalog,
    tier: RawTier | None,
    svc: RawService,
    check: RawCheck,
    known: tuple[str, ...],
) -> tuple[tuple[str, ...], int]:
    """The check's locations and quorum (a majority of them unless given)."""
    names = locations_of(raw, tier, svc, check, known)
    return names, quorum_of(tier, svc, check) or majority(len(names))


def named(checks: list[RawCheck]) -> list[tuple[RawCheck, str]]:
    """Checks without a name are named after their kind: http, http-2, ..."""
    taken = {c.name for c in checks if c.name}
    named: list[tuple[RawCheck, str]] = []
    for check in checks:
        name = check.name or free_name(check.kind, taken)
        taken.add(name)
        named.append((check, name))
    return named


def free_name(kind: str, taken: set[str]) -> str:
    if kind not in taken:
        return kind
    n = 2
    while f"{kind}-{n}" in taken:
        n += 1
    return f"{kind}-{n}"


_TIMING_KEYS = ("interval", "timeout", "confirm_down", "confirm_up")


def _check(
    service: str,
    raw: RawCheck,
    name: str,
    inherited: Timing,
    options: ProbeOptions,
    where: tuple[tuple[str, ...], int],
) -> Check:
    timing = inherited  # shared, immutable: most checks override none of its values
    if any(getattr(raw, key) is not None for key in _TIMING_KEYS):
        values = {key: getattr(inherited, key) for key in _TIMING_KEYS}
        timing = _timing(_inherit(values, raw))
    kind = raw.kind
    return Check(
        id=f"{service}/{name}",
        service=service,
        name=name,
        kind=kind,
        spec=with_inherited(getattr(raw, kind), options),
        timing=timing,
        impact=raw.impact,
        locations=where[0],
        quorum=where[1],
    )
