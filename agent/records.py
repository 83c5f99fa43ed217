"""Plain records the engine produces and the store keeps (semantics.md §2-§5).

The engine emits `Effect`s; the store writer applies them in order, in one transaction per
batch. Nothing here knows about SQL or HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from checks.result import ProbeResult


class State(enum.StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Fragment:
    """One DOWN interval folded into an incident (merging, semantics.md §3)."""

    started_at: datetime
    confirmed_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    service: str
    tier: str
    pcn: bool
    started_at: datetime  # first failing probe of the run that led to hard DOWN
    confirmed_at: datetime  # when hard DOWN was reached
    ended_at: datetime | None = None  # first ok probe of the run that confirmed UP
    restore_seconds: float | None = None  # ended - started minus planned maintenance overlap
    maintenance_seconds: float = 0.0
    cause: str = ""  # reason of the first failing probe, with its check id
    root_cause: str | None = None  # a parent service that was DOWN
    inhibited: bool = False  # alert inhibited because a parent was DOWN
    fragments: tuple[Fragment, ...] = ()
    locations: tuple[str, ...] = ()  # the locations whose DOWN formed the quorum (§8)
    retroactive: bool = False  # late results created or changed it (§8)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class CheckStep:
    """From `at` the check pushes the service towards `state` (UP, DEGRADED or DOWN).

    `reason` is the first failing probe's reason on a DOWN step (the incident cause).
    """

    at: datetime
    state: State
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """What the engine must remember about a check across restarts."""

    check: str
    service: str
    hard_state: State  # UP, DOWN, or UNKNOWN before the first result
    since: datetime | None  # backdated start of the current hard state
    fail_count: int = 0  # consecutive fail results in the current run
    fail_started_at: datetime | None = None  # started_at of the first fail of that run
    fail_reason: str = ""
    ok_count: int = 0  # consecutive ok/degraded results while hard DOWN
    ok_started_at: datetime | None = None
    last_outcome: str | None = None
    last_result_at: datetime | None = None
    last_reason: str = ""
    # recent steps, oldest first: what a backdated change needs to recompute the service
    history: tuple[CheckStep, ...] = ()


@dataclass(frozen=True, slots=True)
class LocationState:
    """One location's part of a check judged over several locations (semantics.md §8): the
    location's own hard state machine and when it was heard from. A restarted core needs it
    to judge a backlog that arrives later: without the other locations' states, a late
    result would find them unknown and rewrite known time as unknown."""

    check: str
    location: str
    service: str
    status: CheckStatus  # the location's own machine; `last_result_at` is its newest result
    first: datetime | None = None  # its first result
    gaps: tuple[tuple[datetime, datetime], ...] = ()  # silences (last before, first after)
    dropped: tuple[tuple[datetime, datetime], ...] = ()  # what its worker's spool dropped


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    service: str
    state: State
    since: datetime | None
    last_seen_at: datetime | None  # started_at of the newest known (not unknown) result
    flapping: bool = False
    flap_history: tuple[str, ...] = ()  # last 21 instant states, oldest first
    open_incident: int | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """The service state is `state` from `at` until the next transition."""

    service: str
    at: datetime
    state: State


# ---- effects: what the store writer applies, in order ------------------------------------


@dataclass(frozen=True, slots=True)
class ResultRecorded:
    result: ProbeResult
    in_maintenance: bool = False
    location: str = "local"  # where it was probed from (semantics.md §8)


@dataclass(frozen=True, slots=True)
class TimelineRewritten:
    """Replace the service's transitions at or after `since` with `steps` (backdating)."""

    service: str
    since: datetime
    steps: tuple[Transition, ...]


@dataclass(frozen=True, slots=True)
class UnknownRecorded:
    """The agent was not observing `service` in [start, end) (semantics.md §4)."""

    service: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class IncidentSaved:
    """Insert or replace the incident with this id."""

    incident: Incident


@dataclass(frozen=True, slots=True)
class CheckStatusSaved:
    status: CheckStatus


@dataclass(frozen=True, slots=True)
class ServiceStatusSaved:
    status: ServiceStatus


@dataclass(frozen=True, slots=True)
class LocationStateSaved:
    state: LocationState


@dataclass(frozen=True, slots=True)
class ResultsDropped:
    """A location's worker dropped `count` results of `check` from its full spool, started
    from `start` to `end` (semantics.md §8). Stored once per (check, location, start, end), so
    a resent batch counts once; the per-location totals survive a restart."""

    check: str
    service: str
    location: str
    start: datetime
    end: datetime
    count: int


@dataclass(frozen=True, slots=True)
class FlappingChanged:
    service: str
    at: datetime
    flapping: bool
    percent: float


@dataclass(frozen=True, slots=True)
class ResultPending:
    """A result of a partition this node does not own (several core nodes, semantics.md §9):
    kept in the database until the partition's owner judges it. Never fenced."""

    result: ProbeResult
    location: str
    partition: int


@dataclass(frozen=True, slots=True)
class PendingConsumed:
    """Pending results the owner judged: deleted in the fenced transaction that records what
    they caused, so a result is applied exactly once whichever node dies when."""

    service: str
    ids: tuple[int, ...]


Effect = (
    ResultRecorded
    | ResultPending
    | PendingConsumed
    | TimelineRewritten
    | UnknownRecorded
    | IncidentSaved
    | CheckStatusSaved
    | ServiceStatusSaved
    | LocationStateSaved
    | ResultsDropped
    | FlappingChanged
)


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """An ad-hoc window (catalogue cron windows are computed, not stored)."""

    id: int
    service: str
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    author: str = ""
    cancelled_at: datetime | None = None

    @property
    def retroactive(self) -> bool:
        """Declared after it started: shown, but excludes nothing by default (§5)."""
        return self.created_at > self.start


@dataclass(frozen=True, slots=True)
class Annotation:
    id: int
    incident: int
    field: str  # cause | impact | action | note | false_alarm
    text: str
    author: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the engine loads from the store at start to continue where it stopped."""

    checks: dict[str, CheckStatus] = field(default_factory=dict)
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    open_incidents: dict[str, Incident] = field(default_factory=dict)  # by service
    last_incidents: dict[str, Incident] = field(default_factory=dict)  # newest closed, by service
    recent_transitions: dict[str, tuple[Transition, ...]] = field(default_factory=dict)
    next_incident_id: int = 1
    # per check judged over several locations, per location (§8)
    locations: dict[str, dict[str, LocationState]] = field(default_factory=dict)
