"""Load `catalog/services.yaml`: parse, validate whole, resolve inheritance, or list every error."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from agent.catalog.errors import CatalogError, Problem
from agent.catalog.model import LOCAL, Catalog, Check, MaintenanceRule, Service, Tier, Timing
from agent.catalog.probe_options import (
    EnvironmentProxyError,
    ProbeOptions,
    inherited,
    with_inherited,
)
from agent.catalog.schema import PolicyFields, RawCatalog, RawCheck, RawService, RawTier
from agent.catalog.yamlsource import Path_, Source, parse
from agent.locations.quorum import majority
from agent.maintenance import cron_schedule

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


def load(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    locations: Sequence[str] | None = None,
) -> Catalog:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(
            [Problem("", f"cannot read the catalogue: {exc}", str(file), None)]
        ) from None
    return load_text(text, str(file), environ, source_path=file, locations=locations)


def load_text(
    text: str,
    file: str = "services.yaml",
    environ: Mapping[str, str] | None = None,
    source_path: Path | None = None,
    locations: Sequence[str] | None = None,
) -> Catalog:
    """A valid Catalog, or CatalogError with every problem found (sorted by line).

    `locations` are the configured probe locations (settings `locations:`, with or without
    `local`); None: the core's own probes only.
    """
    with _gc_paused():
        return _load_text(text, file, environ, source_path, _known_locations(locations))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A catalogue load allocates millions of objects (YAML nodes, dicts, models) and frees
    them in bulk, with no reference cycles to collect: the cyclic GC, triggered every 700
    allocations, would walk the ever-growing heap again and again, about half of a
    50,000-service load (bench/RESULTS.md "Catalogue load"). Process-wide for the few seconds
    of a load, a reload's included: probes running meanwhile only keep their cycles longer."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_text(
    text: str,
    file: str,
    environ: Mapping[str, str] | None,
    source_path: Path | None,
    known: tuple[str, ...],
) -> Catalog:
    source = parse(text, file, environ)
    if source.problems and source.data is None:
        raise CatalogError(source.problems)
    if not isinstance(source.data, dict):
        source.problem(
            (), "the catalogue must be a mapping with version, defaults, tiers, services"
        )
        raise CatalogError(source.problems)
    raw = _validate(source)
    _check_references(source)
    if raw is not None:
        _check_locations(source, raw, known)
        _check_scenarios(source, raw)
    if source.problems or raw is None:
        raise CatalogError(sorted(source.problems, key=lambda p: (p.line or 0, p.path)))
    try:
        return _resolve(raw, source_path, known, environ)
    except EnvironmentProxyError as bad:  # the environment, not a line of the file, is wrong
        raise CatalogError([Problem("", str(bad), file, None)]) from None


def _known_locations(locations: Sequence[str] | None) -> tuple[str, ...]:
    """The configured locations then `local`, each once."""
    return (*(n for n in (locations or ()) if n != LOCAL), LOCAL)


# ---- schema -----------------------------------------------------------------------------


def _validate(source: Source) -> RawCatalog | None:
    try:
        return RawCatalog.model_validate(source.data)
    except ValidationError as exc:
        source.add_validation_errors(exc)
        return None


# ---- references: ids, tiers, dependencies, cron --------------------------------------------


def _services(source: Source) -> list[tuple[int, dict[str, Any]]]:
    items = source.data.get("services") if isinstance(source.data, dict) else None
    if not isinstance(items, list):
        return []
    return [(i, s) for i, s in enumerate(items) if isinstance(s, dict)]


def _check_references(source: Source) -> None:
    services = _services(source)
    ids = _check_ids(source, services)
    _check_tiers(source, services)
    _check_dependencies(source, services, ids)
    _check_maintenance(source, services)
    _check_check_names(source, services)


def _check_ids(source: Source, services: list[tuple[int, dict[str, Any]]]) -> set[str]:
    seen: dict[str, int] = {}
    for index, svc in services:
        sid = svc.get("id")
        if not isinstance(sid, str):
            continue
        if sid in seen:
            source.problem(
                ("services", index, "id"), f"duplicate id {sid!r} (first at services[{seen[sid]}])"
            )
        seen.setdefault(sid, index)
    return set(seen)


def _check_tiers(source: Source, services: list[tuple[int, dict[str, Any]]]) -> None:
    tiers = source.data.get("tiers")
    known = set(BUILTIN_TIERS) | (set(tiers) if isinstance(tiers, dict) else set())
    for index, svc in services:
        tier = svc.get("tier")
        if isinstance(tier, str) and tier not in known:
            source.problem(
                ("services", index, "tier"),
                f"{tier!r} is not a tier (known: {', '.join(sorted(map(str, known)))})",
            )


def _check_dependencies(
    source: Source, services: list[tuple[int, dict[str, Any]]], ids: set[str]
) -> None:
    graph: dict[str, list[str]] = {}
    for index, svc in services:
        deps = svc.get("depends_on")
        if not isinstance(deps, list) or not isinstance(svc.get("id"), str):
            continue
        for position, dep in enumerate(deps):
            if isinstance(dep, str) and dep not in ids:  # other types: the schema reports them
                source.problem(
                    ("services", index, "depends_on", position),
                    f"{dep!r} is not a service id in this catalogue",
                )
        graph[svc["id"]] = [d for d in deps if isinstance(d, str) and d in ids]
    for cycle in _cycles(graph):
        index = next(i for i, s in services if s.get("id") == cycle[0])
        source.problem(("services", index, "depends_on"), "dependency cycle: " + " -> ".join(cycle))


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One representative path per cycle, found by depth-first search."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            found.append([*stack[stack.index(node) :], node])
            return
        if node in done:
            return
        for parent in graph.get(node, []):
            visit(parent, [*stack, node])
        done.add(node)

    for node in graph:
        visit(node, [])
    return found


def _check_maintenance(source: Source, services: list[tuple[int, dict[str, Any]]]) -> None:
    for index, svc in services:
        windows = svc.get("maintenance")
        for position, window in enumerate(windows if isinstance(windows, list) else []):
            if not isinstance(window, dict) or not isinstance(window.get("cron"), str):
                continue
            path: Path_ = ("services", index, "maintenance", position)
            zone = window.get("timezone", "Europe/Lisbon")
            if not _is_zone(str(zone)):
                source.problem((*path, "timezone"), f"{zone!r} is not a time zone")
                continue
            problem = _cron_problem(window["cron"], str(zone))
            if problem:
                source.problem(
                    (*path, "cron"), f"{window['cron']!r} is not a valid cron: {problem}"
                )


# A catalogue repeats a few windows thousands of times, and checking one walks its cron.
@lru_cache(maxsize=1024)
def _is_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
        return False
    return True


@lru_cache(maxsize=4096)
def _cron_problem(cron: str, zone: str) -> str:
    """Why `cron` is not a valid cron in `zone`; "" when it is."""
    try:
        cron_schedule(cron, zone)
    except (ValueError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    return ""


def _check_check_names(source: Source, services: list[tuple[int, dict[str, Any]]]) -> None:
    for index, svc in services:
        checks = svc.get("checks")
        names: set[str] = set()
        for position, check in enumerate(checks if isinstance(checks, list) else []):
            name = check.get("name") if isinstance(check, dict) else None
            if isinstance(name, str):
                if name in names:
                    source.problem(
                        ("services", index, "checks", position, "name"),
                        f"duplicate check name {name!r}",
                    )
                names.add(name)


def _check_scenarios(source: Source, raw: RawCatalog) -> None:
    """Step names are distinct and each `{{name}}` is captured by an earlier step."""
    for i, svc in enumerate(raw.services):
        for j, check in enumerate(svc.checks):
            if check.scenario is not None:
                for path, message in check.scenario.problems():
                    source.problem(("services", i, "checks", j, "scenario", *path), message)


# ---- locations and quorum (semantics.md §8) -------------------------------------------------


def _location_layers(raw: RawCatalog) -> list[tuple[Path_, list[str] | None]]:
    layers: list[tuple[Path_, list[str] | None]] = [(("defaults",), raw.defaults.locations)]
    layers += [(("tiers", name), tier.locations) for name, tier in raw.tiers.items()]
    for i, svc in enumerate(raw.services):
        layers.append((("services", i), svc.locations))
        layers += [(("services", i, "checks", j), c.locations) for j, c in enumerate(svc.checks)]
    return layers


def _check_locations(source: Source, raw: RawCatalog, known: tuple[str, ...]) -> None:
    """Every named location is configured; every check's quorum fits its locations."""
    for path, names in _location_layers(raw):
        for position, name in enumerate(names or ()):
            if name not in known:
                source.problem(
                    (*path, "locations", position),
                    f"{name!r} is not a configured location (known: {', '.join(known)})",
                )
    for i, svc in enumerate(raw.services):
        tier = raw.tiers.get(svc.tier)
        for j, check in enumerate(svc.checks):
            located = _locations_of(raw, tier, svc, check, known)
            quorum = _quorum_of(tier, svc, check)
            if quorum is not None and quorum > len(located):
                where: Path_ = ("services", i, "checks", j)
                if check.quorum is not None:
                    where = (*where, "quorum")
                source.problem(
                    where,
                    f"quorum {quorum} is more than its {len(located)} locations "
                    f"({', '.join(located)})",
                )


def _locations_of(
    raw: RawCatalog, tier: RawTier | None, svc: RawService, check: RawCheck, known: tuple[str, ...]
) -> tuple[str, ...]:
    layers = (
        check.locations,
        svc.locations,
        tier.locations if tier else None,
        raw.defaults.locations,
    )
    chosen = next((layer for layer in layers if layer is not None), None)
    return tuple(chosen) if chosen is not None else known


def _quorum_of(tier: RawTier | None, svc: RawService, check: RawCheck) -> int | None:
    layers = (check.quorum, svc.quorum, tier.quorum if tier else None)
    return next((q for q in layers if q is not None), None)


# ---- resolution: inheritance defaults -> tier -> service -> check ----------------------------


def _resolve(
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
        for check, name in _named(svc.checks)
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
    names = _locations_of(raw, tier, svc, check, known)
    return names, _quorum_of(tier, svc, check) or majority(len(names))


def _named(checks: list[RawCheck]) -> list[tuple[RawCheck, str]]:
    """Checks without a name are named after their kind: http, http-2, ..."""
    taken = {c.name for c in checks if c.name}
    named: list[tuple[RawCheck, str]] = []
    for check in checks:
        name = check.name or _free_name(check.kind, taken)
        taken.add(name)
        named.append((check, name))
    return named


def _free_name(kind: str, taken: set[str]) -> str:
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
