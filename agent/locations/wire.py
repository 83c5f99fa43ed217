"""The documents a probe worker and the core exchange, over HTTPS, in JSON.

- `GET /api/v1/probe/assignment` (a `probe` token) -> `Assignment`: the catalogue the worker's
  location runs, as catalogue YAML text with its `${NAME}` placeholders unresolved, so secret
  values never travel: the worker resolves them from its own environment.
- `POST /api/v1/probe/results` (the same token) <- `ResultBatch` -> `BatchAck`. A batch is
  stored once however often it is sent: each result's natural key is
  (check, location, started_at), and the core answers with the keys it holds, new or not.
  Results the worker's full spool dropped travel as `DroppedInterval`s: the core counts the
  location unknown for the check over each (semantics.md §8), never a silent gap.

The models forbid unknown fields and bound every size, so a malformed or oversized batch is a
clear 4xx before anything is stored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checks.result import Outcome, ProbeResult

MAX_RESULTS_PER_BATCH = 5000
MAX_REASON_CHARS = 4096
MAX_MEASUREMENTS = 64
# A worker's cadence: results wait FLUSH_EVERY in memory before their spool commit, and once
# caught up it sends the next batch PUSH_EVERY after the last. With the core's answer these
# bound a result's time from probe start to verdict (under 2 s at p99, issue #14).
FLUSH_EVERY_SECONDS = 0.25
PUSH_EVERY_SECONDS = 0.5

LocationName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", min_length=1, max_length=63)
]
CheckId = Annotated[str, StringConstraints(min_length=3, max_length=300, pattern=r"^[^/]+/.+$")]
WireMeasurement = float | int | str | bool | list[str] | None


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assignment(_Document):
    location: LocationName
    version: str  # changes whenever the assigned catalogue changes: the worker reloads then
    catalog: str  # catalogue YAML text, placeholders unresolved
    # host:port the worker must reach to judge anything (settings `locations:`): while it
    # cannot, its failures are unknown and it reports itself blind
    connectivity_check: str | None = None


class WireResult(_Document):
    check: CheckId
    started_at: AwareDatetime
    duration: float = Field(ge=0, le=86400, allow_inf_nan=False)
    outcome: Outcome
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)
    measurements: dict[str, WireMeasurement] = Field(
        default_factory=dict, max_length=MAX_MEASUREMENTS
    )

    @classmethod
    def of(cls, result: ProbeResult) -> WireResult:
        return cls(
            check=result.check,
            started_at=result.started_at,
            duration=result.duration,
            outcome=result.outcome,
            reason=result.reason,
            measurements=dict(result.measurements),
        )

    def probe_result(self) -> ProbeResult:
        return ProbeResult(
            check=self.check,
            started_at=self.started_at,
            duration=self.duration,
            outcome=self.outcome,
            reason=self.reason,
            measurements=dict(self.measurements),
        )


class DroppedInterval(_Document):
    """Results the worker's spool had to drop on overflow: unknown time, never a silent gap."""

    check: CheckId
    start: AwareDatetime
    end: AwareDatetime
    count: int = Field(ge=1)

    @model_validator(mode="after")
    def _in_order(self) -> DroppedInterval:
        if self.end < self.start:
            raise ValueError("a dropped interval's end must not be before its start")
        return self


class ResultBatch(_Document):
    location: LocationName
    worker_clock: AwareDatetime  # the worker's wall clock when it sent: the core's skew check
    worker_version: str = Field(default="", max_length=64)
    # why the worker's own connectivity check fails, or "": a blind location (LocationBlind)
    blind: str = Field(default="", max_length=MAX_REASON_CHARS)
    # results waiting in the worker's spool when it sent (this batch's included): a backlog
    spool_depth: int = Field(default=0, ge=0)
    results: list[WireResult] = Field(default_factory=list, max_length=MAX_RESULTS_PER_BATCH)
    dropped: list[DroppedInterval] = Field(default_factory=list, max_length=MAX_RESULTS_PER_BATCH)


class BatchAck(_Document):
    """What the core holds of a batch: the worker may delete exactly these from its spool."""

    accepted: int  # stored by this request
    duplicates: int  # already held (a resend)
    clock_offset_seconds: float  # core clock - worker clock, as the core measured it
