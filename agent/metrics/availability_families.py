"""The families of the store metrics' availability pass: each service's availability over
rolling windows, and the QUAR indicators and grades month to date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from agent.catalog.model import Service
from agent.indicators.figures import Indicators
from agent.indicators.quar import assess
from agent.indicators.quar_config import QuarConfig
from agent.indicators.timeline import Timeline
from agent.metrics.exposition import Family, Row
from agent.metrics.series import service_labels

WINDOWS = (("1d", timedelta(days=1)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)))


def window_rows(service: Service, timeline: Timeline | None, now: datetime) -> list[Row]:
    if timeline is None:
        return []
    rows: list[Row] = []
    for window, length in WINDOWS:
        availability = timeline.time(now - length, now).availability
        if availability is not None:
            rows.append(((*service_labels(service), window), availability))
    return rows


def quar_families(monthly: Indicators, config: QuarConfig) -> tuple[Family, ...]:
    values = monthly.values()
    base = {  # QUAR units -> base units: percent -> ratio, minutes -> seconds
        "ind3": _scaled(values["ind3"], 0.01),
        "ind4": _scaled(values["ind4"], 60.0),
        "coverage": _scaled(values["coverage"], 0.01),
    }
    families = [
        Family(
            "vigia_quar_indicator",
            "QUAR indicator month to date: ind3 (mean availability) and coverage as ratios, "
            "ind4 (mean restoration time of platina+pcn incidents) in seconds.",
            ("indicator",),
            tuple(((k,), v) for k, v in base.items() if v is not None),
        )
    ]
    return (*families, *_graded(values, config))


def _graded(values: dict[str, float | None], config: QuarConfig) -> Sequence[Family]:
    assessment = assess(values, config)
    tr: list[Row] = [
        ((key, "indicator"), g.tr / 100)
        for key, g in assessment.indicators.items()
        if g.tr is not None
    ]
    objective = assessment.objective
    if objective.tr is not None:
        tr.append(((objective.name.lower(), "objective"), objective.tr / 100))
    return (
        Family(
            "vigia_quar_taxa_realizacao_ratio",
            "QUAR taxa de realização month to date (1 = met exactly), per indicator and "
            "for the objective.",
            ("indicator", "scope"),
            tuple(tr),
        ),
    )


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor
