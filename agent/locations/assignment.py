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
from agent.locations.wire import Assignment

_CORE_ONLY = ("locations", "quorum")


def assignment(catalog: Catalog, raw_text: str, location: str) -> Assignment:
    """The `Assignment` of `location`; `raw_text` is the catalogue file as written."""
    data = yaml.safe_load(raw_text) or {}
    services = []
    for raw in data.get("services") or []:
        resolved = catalog.by_id.get(str(raw.get("id"))) if isinstance(raw, dict) else None
        if resolved is None or not resolved.monitored:
            continue
        # resolved checks keep the order of the raw ones (agent.catalog.loader._named)
        checks = [
            _strip(check)
            for check, judged in zip(raw.get("checks") or [], resolved.checks, strict=False)
            if location in judged.locations
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
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Assignment(location=location, version=version, catalog=text)


def _strip(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if k not in _CORE_ONLY}
