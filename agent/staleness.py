"""Stale states: a service whose newest result is older than its silence threshold.

Its stored state is the last thing vigia knew, not what is true now (semantics.md §4: past the
threshold the time is unknown). The board, the API and /metrics mark it, so the CCO never
reads an old "up" as a live one while probes to it are not coming back.
"""

from __future__ import annotations

from datetime import datetime

from agent.catalog.model import Service


def is_stale(service: Service, last_seen: datetime | None, now: datetime) -> bool:
    """True when the service was observed once and not within its silence threshold since."""
    if not service.monitored or last_seen is None:
        return False  # never observed: its state is UNKNOWN already, nothing old to flag
    return (now - last_seen).total_seconds() > service.silence_threshold
