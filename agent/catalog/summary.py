"""A catalogue's summary, for `vigia catalog validate`: figures, and their one-line text."""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent.catalog.model import Catalog


def figures(catalog: Catalog, name: str) -> dict[str, Any]:
    services = catalog.services
    monitored = len(catalog.monitored)
    return {
        "file": name,
        "valid": True,
        "services": len(services),
        "tiers": dict(sorted(Counter(s.tier for s in services).items())),
        "macro_services": dict(sorted(Counter(s.macro_service for s in services).items())),
        "checks": sum(len(s.checks) for s in services),
        "monitored": monitored,
        "coverage_percent": round(100.0 * monitored / len(services), 1) if services else 0.0,
    }


def summary(catalog: Catalog, name: str) -> str:
    found = figures(catalog, name)
    tier_text = ", ".join(f"{t} {n}" for t, n in found["tiers"].items())
    macro_text = ", ".join(f"{m} {n}" for m, n in found["macro_services"].items())
    return (
        f"{name}: valid, {found['services']} services ({tier_text}); "
        f"macro services: {macro_text}; {found['checks']} checks; "
        f"{found['monitored']} monitored, coverage {found['coverage_percent']:.1f} %"
    )
