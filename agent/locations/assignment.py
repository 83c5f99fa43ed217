"""What one location's worker runs: the catalogue text cut down to its checks.

The text is the catalogue's own YAML, parsed without resolving `${NAME}` placeholders, so no
secret value ever leaves the core: the worker resolves them from its own environment. The
`locations` and `quorum` keys are removed: they are the core's business, and the worker runs
everything it is given.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from agent.catalog.model import Catalog
from agent.catalog.resolution import free_name
from agent.locations.wire import Assignment
from checks.specs import KINDS

_CORE_ONLY = ("locations", "quorum")


def assignment(
    catalog: Catalog, raw_text: str, location: str, connectivity_check: str | None = None
) -> Assignment:
    """The `Assignment` of `location`; `raw_text` is the catalogue file as written;
    `connectivity_check` is the host:port its worker must reach (settings `locations:`)."""
    data = yaml.safe_load(raw_text) or {}
    services = []
    for raw in data.get("services") or []:
        resolved = catalog.by_id.get(str(raw.get("id"))) if isinstance(raw, dict) else None
        if resolved is None or not resolved.monitored:
            continue
        # matched by id, not position: the file may have changed since it was loaded
        checks = [
            _strip(check)
            for check, name in _named(raw.get("checks") or [])
            if (judged := catalog.checks.get(f"{resolved.id}/{name}")) is not None
            and location in judged.locations
        ]
        if checks:
            services.append({**_strip(raw), "checks": checks})
    out: dict[str, Any] = {"version": data.get("version", 1)}
    if isinstance(data.get("defaults"), dict):
        out["defaults"] = _strip(data["defaults"])
    if isinstance(data.get("tiers"), dict):
        out["tiers"] = {name: _strip(tier or {}) for name, tier in data["tiers"].items()}
    out["services"] = services
    text = yaml.safe_dump(out, allow_unicode=True, sort_keys=False)
    version = hashlib.sha256(f"{text}\n{connectivity_check}".encode()).hexdigest()[:16]
    return Assignment(
        location=location, version=version, catalog=text, connectivity_check=connectivity_check
    )


def _named(checks: list[Any]) -> list[tuple[dict[str, Any], str]]:
    """Each raw check with the name the loader gives it (agent.catalog.resolution.named)."""
    raw = [c for c in checks if isinstance(c, dict)]
    taken = {c["name"] for c in raw if isinstance(c.get("name"), str)}
    named = []
    for check in raw:
        name = check.get("name")
        if not isinstance(name, str):
            kind = next((k for k in KINDS if k in check), "check")
            name = free_name(kind, taken)
        taken.add(name)
        named.append((check, name))
    return named


def _strip(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if k not in _CORE_ONLY}
