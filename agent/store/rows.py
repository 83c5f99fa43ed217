"""Table rows <-> records: what the store writes for a record and rebuilds from a row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from agent.records import (
    CheckStatus,
    Fragment,
    Incident,
    LocationState,
    ResultPending,
    ResultRecorded,
    ServiceStatus,
    State,
    Transition,
)
from agent.store.base import CheckRollup, StoredResult
from agent.store.codec import decode_record, encode_record
from agent.store.schema import BUCKET_COLUMNS, OUTCOME_COLUMNS
from checks.result import Outcome, ProbeResult


def result_row(recorded: ResultRecorded) -> dict[str, Any]:
    r = recorded.result
    return {
        "check": r.check,
        "service": r.service,
        "started_at": r.started_at,
        "duration": r.duration,
        "outcome": str(r.outcome),
        "reason": r.reason,
        "measurements": r.measurements,
        "in_maintenance": recorded.in_maintenance,
        "location": recorded.location,
    }


def stored_result_from_row(row: Mapping[Any, Any]) -> StoredResult:
    result = ProbeResult(
        check=row["check"],
        started_at=row["started_at"],
        duration=row["duration"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        measurements=row["measurements"],
    )
    return StoredResult(result, bool(row["in_maintenance"]), row["location"])


def empty_rollup(check: str, service: str, hour: datetime) -> dict[str, Any]:
    counts = dict.fromkeys((*OUTCOME_COLUMNS, *BUCKET_COLUMNS), 0)
    return {"check": check, "hour": hour, "service": service, "latency_sum": 0.0, **counts}


def rollup_from_row(row: Mapping[Any, Any]) -> CheckRollup:
    return CheckRollup(
        check=row["check"],
        service=row["service"],
        hour=row["hour"],
        ok=row["ok"],
        degraded=row["degraded"],
        fail=row["fail"],
        unknown=row["unknown"],
        latency_sum=row["latency_sum"],
        latency_buckets=tuple(row[name] for name in BUCKET_COLUMNS),
    )


def transition_from_row(row: Mapping[Any, Any]) -> Transition:
    return Transition(service=row["service"], at=row["at"], state=State(row["state"]))


def check_status_row(status: CheckStatus) -> dict[str, Any]:
    return {"check": status.check, "service": status.service, "data": encode_record(status)}


def location_state_row(state: LocationState) -> dict[str, Any]:
    return {
        "check": state.check,
        "location": state.location,
        "service": state.service,
        "last_result_at": state.status.last_result_at,
        "data": encode_record(state),
    }


def service_status_row(status: ServiceStatus) -> dict[str, Any]:
    return {"service": status.service, "state": str(status.state), "data": encode_record(status)}


def pending_row(pending: ResultPending, received_at: datetime) -> dict[str, Any]:
    return {
        "partition": pending.partition,
        "location": pending.location,
        "started_at": pending.result.started_at,
        "payload": encode_record(pending.result),
        "received_at": received_at,
    }


def incident_row(incident: Incident) -> dict[str, Any]:
    """Every `Incident` field has a column of the same name (a contract test checks it)."""
    row = {f.name: getattr(incident, f.name) for f in fields(incident)}
    row["fragments"] = [encode_record(f) for f in incident.fragments]
    return row


def incident_from_row(row: Mapping[Any, Any]) -> Incident:
    values = dict(row)
    values["fragments"] = tuple(decode_record(Fragment, f) for f in values["fragments"])
    values["pcn"], values["inhibited"] = bool(values["pcn"]), bool(values["inhibited"])
    values["locations"] = tuple(values["locations"])
    values["retroactive"] = bool(values["retroactive"])
    return Incident(**values)
