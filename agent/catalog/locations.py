"""Where a check is probed from and its quorum (semantics.md §8): validated against the
configured locations, and resolved check -> service -> tier -> defaults."""

from __future__ import annotations

from agent.catalog.schema import RawCatalog, RawCheck, RawService, RawTier
from checks.yamlsource import Path_, Source


def _location_layers(raw: RawCatalog) -> list[tuple[Path_, list[str] | None]]:
    layers: list[tuple[Path_, list[str] | None]] = [(("defaults",), raw.defaults.locations)]
    layers += [(("tiers", name), tier.locations) for name, tier in raw.tiers.items()]
    for i, svc in enumerate(raw.services):
        layers.append((("services", i), svc.locations))
        layers += [(("services", i, "checks", j), c.locations) for j, c in enumerate(svc.checks)]
    return layers


def check_locations(source: Source, raw: RawCatalog, known: tuple[str, ...]) -> None:
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
            located = locations_of(raw, tier, svc, check, known)
            quorum = quorum_of(tier, svc, check)
            if quorum is not None and quorum > len(located):
                where: Path_ = ("services", i, "checks", j)
                if check.quorum is not None:
                    where = (*where, "quorum")
                source.problem(
                    where,
                    f"quorum {quorum} is more than its {len(located)} locations "
                    f"({', '.join(located)})",
                )


def locations_of(
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


def quorum_of(tier: RawTier | None, svc: RawService, check: RawCheck) -> int | None:
    layers = (check.quorum, svc.quorum, tier.quorum if tier else None)
    return next((q for q in layers if q is not None), None)
