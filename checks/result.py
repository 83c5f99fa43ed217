"""The probe result: what one test of one aspect of a service observed (semantics.md §1)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

Measurement = float | int | str | bool | list[str] | None


class Outcome(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # answered, but outside a soft limit such as latency
    FAIL = "fail"
    UNKNOWN = "unknown"  # the agent itself could not judge


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a probe module decides; the runner stamps check id, start and duration on it."""

    outcome: Outcome
    reason: str = ""
    measurements: dict[str, Measurement] = field(default_factory=dict)

    @classmethod
    def ok(cls, **measurements: Measurement) -> Verdict:
        return cls(Outcome.OK, "", dict(measurements))

    @classmethod
    def fail(cls, reason: str, **measurements: Measurement) -> Verdict:
        return cls(Outcome.FAIL, reason, dict(measurements))

    @classmethod
    def degraded(cls, reason: str, **measurements: Measurement) -> Verdict:
        return cls(Outcome.DEGRADED, reason, dict(measurements))

    @classmethod
    def unknown(cls, reason: str, **measurements: Measurement) -> Verdict:
        return cls(Outcome.UNKNOWN, reason, dict(measurements))


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe run. `started_at` is timezone-aware UTC; `duration` is in seconds."""

    check: str  # "<service id>/<check name>"
    started_at: datetime
    duration: float
    outcome: Outcome
    reason: str = ""
    measurements: dict[str, Measurement] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.check.split("/", 1)[0]
