"""Catalogue rules across entries, beyond what the schema checks one field at a time: unique
ids and check names, known tiers, dependencies (no unknown id, no cycle), valid maintenance
crons and time zones, and scenario steps. Each problem is recorded on the source, with its path
(hence its line)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.catalog.resolution import BUILTIN_TIERS
from agent.catalog.schema import RawCatalog
from agent.maintenance import cron_schedule
from checks.yamlsource import Path_, Source


def _services(source: Source) -> list[tuple[int, dict[str, Any]]]:
    items = source.data.get("services") if isinstance(source.data, dict) else None
    if not isinstance(items, list):
        return []
    return [(i, s) for i, s in enumerate(items) if isinstance(s, dict)]


def check_references(source: Source) -> None:
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


def check_scenarios(source: Source, raw: RawCatalog) -> None:
    """Step names are distinct and each `{{name}}` is captured by an earlier step."""
    for i, svc in enumerate(raw.services):
        for j, check in enumerate(svc.checks):
            if check.scenario is not None:
                for path, message in check.scenario.problems():
                    source.problem(("services", i, "checks", j, "scenario", *path), message)
