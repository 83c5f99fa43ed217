"""Service dependencies (`depends_on`), for root causes and alert inhibition (§2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.catalog.model import Service


def ancestors(services: Mapping[str, Service], service: str) -> list[str]:
    """Transitive parents, nearest first (breadth first); cycles and unknown ids ignored."""
    seen = {service}
    order: list[str] = []
    frontier = [service]
    while frontier:
        nxt: list[str] = []
        for sid in frontier:
            for parent in services[sid].depends_on if sid in services else ():
                if parent not in seen and parent in services:
                    seen.add(parent)
                    order.append(parent)
                    nxt.append(parent)
        frontier = nxt
    return order


def descendants(services: Mapping[str, Service], service: str) -> list[str]:
    return [sid for sid in services if service in ancestors(services, sid)]


def root_cause(
    services: Mapping[str, Service], service: str, is_cause: Callable[[str], bool]
) -> str | None:
    """The furthest-up ancestor for which `is_cause` holds (the last one breadth first)."""
    causes = [a for a in ancestors(services, service) if is_cause(a)]
    return causes[-1] if causes else None
