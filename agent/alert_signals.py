"""The worker locations' part of the signals the agent-health alert rules watch
(alerting/rules.yaml, `when: agent`; semantics.md §8)."""

from __future__ import annotations

from datetime import datetime

from agent.catalog.model import Catalog
from agent.locations.book import LocationBook, silence_limits
from alerting.conditions import (
    LOCATION_BLIND_PREFIX,
    LOCATION_DOWN_PREFIX,
    LOCATION_SKEWED_PREFIX,
)


def location_signals(catalog: Catalog, locations: LocationBook, now: datetime) -> dict[str, float]:
    """`LocationDown`: worker locations silent for 2 intervals + timeout; `LocationBlind`:
    heard from, but cut off from their connectivity target; `LocationClockSkew`."""
    limits = silence_limits(catalog)
    down = locations.down(now, limits)
    signals = {f"{LOCATION_DOWN_PREFIX}{name}": float(name in down) for name in limits}
    skewed = locations.skewed()
    blind = tuple(name for name in locations.blind() if name not in down)
    for name in locations.seen:
        signals[f"{LOCATION_SKEWED_PREFIX}{name}"] = float(name in skewed)
        signals[f"{LOCATION_BLIND_PREFIX}{name}"] = float(name in blind)
    counts = {
        "locations_down": float(len(down)),
        "locations_skewed": float(len(skewed)),
        "locations_blind": float(len(blind)),
    }
    return {**counts, **signals}
