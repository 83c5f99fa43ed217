"""The indicators as a JSON document (API, CLI, reports), with QUAR grading when asked."""

from __future__ import annotations

from typing import Any

from agent.indicators.figures import Indicators, OpenIncident, ServiceFigures
from agent.indicators.quar import Assessment, GradedIndicator, assess
from agent.indicators.quar_config import QuarConfig


def to_json(ind: Indicators, quar: QuarConfig | None = None) -> dict[str, Any]:
    """A JSON-ready dict; timestamps are ISO 8601 with their UTC offset.

    With `quar`, each indicator also gets target, tolerance, critical, weight, grade and tr,
    and an `op3` object {tr, grade} (null when an indicator it weighs is N/A) is added.
    """
    doc = _raw_json(ind)
    if quar is not None:
        graded = assess(ind.values(), quar)
        for key, indicator in graded.indicators.items():
            doc[key] |= grading_json(indicator)
        doc["op3"] = objective_json(graded)
    return doc


def grading_json(graded: GradedIndicator) -> dict[str, Any]:
    target = graded.target
    return {
        "target": target.target,
        "tolerance": target.tolerance,
        "critical": target.critical,
        "weight": target.weight,
        "grade": None if graded.grade is None else str(graded.grade),
        "tr": graded.tr,
    }


def objective_json(graded: Assessment) -> dict[str, Any]:
    objective = graded.objective
    return {
        "name": objective.name,
        "tr": objective.tr,
        "grade": None if objective.grade is None else str(objective.grade),
        "missing": list(objective.missing),
    }


def _raw_json(ind: Indicators) -> dict[str, Any]:
    return {
        "period": {
            "start": ind.period.start.isoformat(),
            "end": ind.period.end.isoformat(),
            "label": ind.period.label,
        },
        "services": [_service_json(f) for f in ind.services],
        "ind3": {
            "value": ind.ind3.value,
            "count": ind.ind3.count,
            "na_services": list(ind.ind3.na_services),
        },
        "ind4": {
            "value": ind.ind4.value,
            "median": ind.ind4.median,
            "p90": ind.ind4.p90,
            "count": ind.ind4.count,
            "open": [_open_json(o) for o in ind.ind4.open],
        },
        "coverage": {
            "value": ind.coverage.value,
            "covered": ind.coverage.covered,
            "total": ind.coverage.total,
            "not_covered": list(ind.coverage.not_covered),
        },
    }


def _service_json(f: ServiceFigures) -> dict[str, Any]:
    return {
        "id": f.id,
        "availability": f.availability,
        "up_seconds": f.up_seconds,
        "down_seconds": f.down_seconds,
        "maintenance_seconds": f.maintenance_seconds,
        "unknown_seconds": f.unknown_seconds,
        "degraded_seconds": f.degraded_seconds,
        "tier": f.tier,
        "macro_service": f.macro_service,
        "pcn": f.pcn,
        "monitored": f.monitored,
        "incidents": f.incidents,
        "longest_incident_seconds": f.longest_incident_seconds,
    }


def _open_json(o: OpenIncident) -> dict[str, Any]:
    return {
        "id": o.id,
        "service": o.service,
        "started_at": o.started_at.isoformat(),
        "ended_at": None if o.ended_at is None else o.ended_at.isoformat(),
    }
