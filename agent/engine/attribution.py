"""What the engine adds to an incident beyond its DOWN interval: the root cause and inhibition
from DOWN ancestors (§2), the cause text, and the locations of a quorum (§8)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from agent.catalog.model import Impact, Service
from agent.engine.dependencies import descendants, root_cause
from agent.engine.multilocation import MultiLocationCheck
from agent.engine.tracked import Judge, ServiceRuntime
from agent.records import Effect, Incident, IncidentSaved, State

Predicate = Callable[[Service, datetime], bool]  # (parent, its DOWN start) explains?
CauseOf = Callable[[datetime], str]


def locate(
    runtime: ServiceRuntime, machines: list[Judge], changed: list[Incident], late: bool
) -> list[Incident]:
    """Name the locations that formed the quorum; mark what late results changed (§8)."""
    multi = [m for m in machines if isinstance(m, MultiLocationCheck)]
    if not multi:
        return changed
    located: list[Incident] = []
    for incident in changed:
        names = set(incident.locations)
        for fragment in incident.fragments:
            for machine in multi:
                names |= set(machine.down_locations_at(fragment.started_at))
        updated = replace(
            incident, locations=tuple(sorted(names)), retroactive=incident.retroactive or late
        )
        if runtime.book.last is not None and runtime.book.last.id == incident.id:
            runtime.book.replace(updated)
        located.append(updated)
    return located


def attribute(
    runtime: ServiceRuntime,
    changed: list[Incident],
    started_ok: Predicate,
    services: Mapping[str, ServiceRuntime],
    by_id: Mapping[str, Service],
) -> list[Incident]:
    """Set root cause and inhibition on the open incident from DOWN ancestors (§2)."""
    incident = runtime.book.open
    if incident is None:
        return changed

    def is_cause(parent: str) -> bool:
        start = services[parent].timeline.down_start()
        return start is not None and started_ok(by_id[parent], start)

    cause = root_cause(by_id, runtime.service.id, is_cause)
    if cause is None or cause == incident.root_cause:
        return changed
    updated = replace(incident, root_cause=cause, inhibited=True)
    runtime.book.replace(updated)
    return [i for i in changed if i.id != updated.id] + [updated]


def inhibit_children(
    parent: str, services: Mapping[str, ServiceRuntime], by_id: Mapping[str, Service]
) -> list[Effect]:
    """A parent went DOWN (or its start moved): children whose incident it explains."""
    effects: list[Effect] = []
    for child in descendants(by_id, parent):
        runtime = services[child]
        incident = runtime.book.open
        if incident is None:
            continue
        changed = attribute(runtime, [], not_after(incident.started_at), services, by_id)
        effects += [IncidentSaved(i) for i in changed]
    return effects


def any_start(_parent: Service, _start: datetime) -> bool:
    """A new incident: any DOWN ancestor explains it."""
    return True


def not_after(start: datetime) -> Predicate:
    """A parent explains a child's incident when its DOWN started no later than one parent
    interval after the child's: the parent is only probed once per interval, so a child probed
    earlier in that interval can see the shared outage first."""

    def explains(parent: Service, down: datetime) -> bool:
        interval = max((c.interval for c in parent.checks), default=parent.timing.interval)
        return down <= start + timedelta(seconds=interval)

    return explains


def cause_of(machines: list[Judge]) -> CauseOf:
    """The "<check id>: <reason>" of the DOWN check (of DOWN impact) starting at an instant."""
    down_impact = [m for m in machines if m.check.impact is Impact.DOWN]

    def cause(at: datetime) -> str:
        for machine in down_impact:
            step = machine.step_at(at)
            if step is not None and step.state is State.DOWN:
                return f"{machine.check.id}: {step.reason}"
        return ""

    return cause
