"""The resolved catalogue: every inherited value filled in, immutable, ready to schedule.

Built from the YAML by `agent.catalog.loader`; everything downstream reads only these types.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from checks.specs import KindSpec

LOCAL = "local"  # the location of the core's own probes

MACRO_SERVICES = (
    "suporte-tecnico",
    "comunicacoes",
    "infraestrutura-postos-trabalho",
    "desenvolvimento-aplicacoes",
    "formacao",
    "gestao-informacao",
)


class Impact(enum.StrEnum):
    DOWN = "down"  # this check hard DOWN makes the service DOWN
    DEGRADED = "degraded"  # this check hard DOWN only degrades the service


@dataclass(frozen=True, slots=True)
class Timing:
    """Values inherited defaults -> tier -> service -> check."""

    interval: float
    timeout: float
    confirm_down: int
    confirm_up: int


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    timing: Timing
    severity: str  # alert severity for an outage of a service of this tier
    merge_within: float  # seconds: an incident starting sooner after the previous is merged
    flap_start: float  # percent state change at which flapping starts
    flap_stop: float  # percent at which it stops


@dataclass(frozen=True, slots=True)
class MaintenanceRule:
    """A recurring planned window: starts at each `cron` time in `timezone`, lasts `duration`."""

    cron: str
    duration: float
    timezone: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    id: str  # "<service id>/<name>", stable across reloads
    service: str
    name: str
    kind: str  # a key of checks.specs.KINDS
    spec: KindSpec
    timing: Timing
    impact: Impact = Impact.DOWN
    locations: tuple[str, ...] = (LOCAL,)  # where it runs from (semantics.md §8)
    quorum: int = 1  # N of the len(locations) locations; resolved (a majority by default)

    @property
    def multi_location(self) -> bool:
        return self.locations != (LOCAL,)

    @property
    def interval(self) -> float:
        return self.timing.interval

    @property
    def timeout(self) -> float:
        return self.timing.timeout


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    macro_service: str
    tier: str
    pcn: bool
    owner: str
    monitored: bool
    depends_on: tuple[str, ...]
    maintenance: tuple[MaintenanceRule, ...]
    timing: Timing
    merge_within: float
    flap_start: float
    flap_stop: float
    checks: tuple[Check, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    public: bool = False  # shown on the public status page
    public_name: str | None = None  # its name there; None: `name`

    @property
    def shown_name(self) -> str:
        """The name the public status page shows."""
        return self.public_name or self.name

    @property
    def silence_threshold(self) -> float:
        """Seconds without results after which time becomes unknown (semantics.md §4)."""
        interval = max((c.interval for c in self.checks), default=self.timing.interval)
        timeout = max((c.timeout for c in self.checks), default=self.timing.timeout)
        return 2 * interval + timeout

    @property
    def is_platinum_pcn(self) -> bool:
        return self.tier == "platina" and self.pcn


@dataclass(frozen=True)
class Catalog:
    version: int
    tiers: Mapping[str, Tier]
    services: tuple[Service, ...]
    source: Path | None = None

    @cached_property
    def by_id(self) -> Mapping[str, Service]:
        return {s.id: s for s in self.services}

    @cached_property
    def checks(self) -> Mapping[str, Check]:
        return {c.id: c for s in self.services for c in s.checks}

    @property
    def monitored(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.monitored)
