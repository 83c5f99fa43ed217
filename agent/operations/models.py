"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from agent.bounds import ALLOWED, check_aware

State = Literal["up", "degraded", "down", "unknown", "unmonitored"]
AnnotationField = Literal["cause", "impact", "action", "note", "false_alarm"]

# every instant the API takes: an offset is required, and the range is agent/bounds.py's
BoundedDatetime = Annotated[
    AwareDatetime,
    AfterValidator(check_aware),
    Field(description=f"ISO 8601 with a UTC offset, within {ALLOWED}"),
]


class IncidentBrief(BaseModel):
    id: int
    started_at: datetime
    elapsed_seconds: float
    root_cause: str | None


class ServiceOut(BaseModel):
    id: str
    name: str
    macro_service: str
    tier: str
    pcn: bool
    owner: str
    monitored: bool
    state: State
    since: datetime | None
    last_seen_at: datetime | None
    stale: bool  # last_seen_at older than the silence threshold: `state` is not live
    flapping: bool
    in_maintenance: bool
    open_incident: IncidentBrief | None


class LastResult(BaseModel):
    started_at: datetime
    duration: float
    outcome: str
    reason: str
    measurements: dict[str, Any]
    in_maintenance: bool


class LocationStateOut(BaseModel):
    """One location's own hard state of a check (semantics.md §8)."""

    location: str
    hard_state: str
    since: datetime | None
    last_result_at: datetime | None


class CheckOut(BaseModel):
    id: str
    service: str
    name: str
    kind: str
    impact: str
    interval: float
    timeout: float
    hard_state: str
    since: datetime | None
    last_outcome: str | None
    last_result_at: datetime | None
    last_reason: str
    last_result: LastResult | None
    quorum: int = 1  # N of the locations below (the verdict is hard_state)
    locations: list[LocationStateOut] = []


class ServiceDetail(ServiceOut):
    depends_on: list[str]
    checks: list[CheckOut]


class FragmentOut(BaseModel):
    started_at: datetime
    confirmed_at: datetime
    ended_at: datetime | None


class IncidentOut(BaseModel):
    id: int
    service: str
    tier: str
    pcn: bool
    started_at: datetime
    confirmed_at: datetime
    ended_at: datetime | None
    restore_seconds: float | None
    maintenance_seconds: float
    cause: str
    root_cause: str | None
    inhibited: bool
    fragments: list[FragmentOut]


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    offset: int
    limit: int


class AnnotationIn(BaseModel):
    field: AnnotationField
    text: str = Field(min_length=1, max_length=4000)


class AnnotationOut(BaseModel):
    id: int
    incident: int
    field: str
    text: str
    author: str
    created_at: datetime


class AckOut(BaseModel):
    author: str
    comment: str
    created_at: datetime
    applied: bool


class DeliveryOut(BaseModel):
    receiver: str
    status: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    delivered_at: datetime | None


class AlertOut(BaseModel):
    alert_id: str
    rule: str
    team: str
    service: str | None
    check: str | None
    state: str
    severity: str
    summary: str
    active_since: datetime
    firing_since: datetime | None
    incident_id: int | None
    acknowledged: bool
    acks: list[AckOut]
    deliveries: list[DeliveryOut]


class AckIn(BaseModel):
    comment: str = Field(default="", max_length=2000)


class AckAccepted(BaseModel):
    alert_id: str
    ack_id: int
    author: str


class TimelineEntry(BaseModel):
    at: datetime
    kind: str  # started | confirmed | state | fragment_end | ended | annotation | alert | ack
    text: str
    author: str | None = None


class IncidentDetail(IncidentOut):
    service_name: str | None
    annotations: list[AnnotationOut]
    alerts: list[AlertOut]
    timeline: list[TimelineEntry]


class WindowIn(BaseModel):
    service: str = Field(min_length=1, max_length=200)
    start: BoundedDatetime
    end: BoundedDatetime
    reason: str = Field(min_length=1, max_length=2000)


class WindowOut(BaseModel):
    id: int
    service: str
    start: datetime
    end: datetime
    reason: str
    author: str
    created_at: datetime
    cancelled_at: datetime | None
    retroactive: bool


class ReloadOut(BaseModel):
    ok: bool
    error: str
    at: datetime | None
    services: int


class CatalogOut(BaseModel):
    source: str | None
    version: int
    services: int
    monitored: int
    checks: int
    tiers: dict[str, int]
    macro_services: dict[str, int]
    configured_coverage: float | None
    reload_ok: bool
    reload_error: str
    reloaded_at: datetime | None


class BeatOut(BaseModel):
    check: str
    at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    offset: int
    limit: int


class Problem(BaseModel):
    detail: str


PublicText = Annotated[
    str,
    Field(
        min_length=1, max_length=1000, description="what the public reads (1 to 1000 characters)"
    ),
]


class PublicMessageIn(BaseModel):
    """A message for the public status page about one incident or one public service."""

    incident: int | None = Field(default=None, ge=1, le=2**63 - 1)
    service: str | None = Field(default=None, min_length=1, max_length=200)
    text: PublicText


class PublicMessageOut(BaseModel):
    id: int
    incident: int | None
    service: str | None
    text: str
    author: str
    written_at: datetime
