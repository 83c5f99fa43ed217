"""One-line human summary of a catalogue, for `vigia catalog validate`."""

from __future__ import annotations

from collections import Counter

from agent.catalog.model import Catalog


def summary(catalog: Catalog, name: str) -> str:
    services = catalog.services
    tiers = Counter(s.tier for s in services)
    macros = Counter(s.macro_service for s in services)
    monitored = len(catalog.monitored)
    coverage = 100.0 * monitored / len(services) if services else 0.0
    checks = sum(len(s.checks) for s in services)
    tier_text = ", ".join(f"{t} {n}" for t, n in sorted(tiers.items()))
    macro_text = ", ".join(f"{m} {n}" for m, n in sorted(macros.items()))
    return (
        f"{name}: valid, {len(services)} services ({tier_text}); "
        f"macro services: {macro_text}; {checks} checks; "
        f"{monitored} monitored, coverage {coverage:.1f} %"
    )
