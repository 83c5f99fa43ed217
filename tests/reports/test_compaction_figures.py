"""Compaction changes no figure: the acceptance month's figures before and after it are equal.

The month of `simulation` is played into a store (SQLite, and PostgreSQL when configured), with
a worker location's results beside the core's; availability, incidents, the monthly report
(every format, with its appendix of probes by location), every incident review, the QUAR
indicators and the quarter are computed; then every ok result compaction may take is rolled up
and everything is computed again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agent.catalog.model import Catalog
from agent.indicators.compute import compute_indicators
from agent.indicators.documents import to_json
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.records import Effect, ResultRecorded
from agent.reports.incident_review import build_review, render_review
from agent.reports.monthly import build_monthly, write_monthly
from agent.reports.quarterly import build_quarterly, render_quarterly
from agent.store import schema
from agent.store.sql import SqlStore
from checks.result import Measurement, Outcome, ProbeResult
from tests.reports import simulation as sim
from tests.store.conftest import store_url  # noqa: F401  # the SQLite/PostgreSQL fixture

PORTO = "porto"
PORTO_EVERY = timedelta(minutes=20)


def porto_results() -> list[Effect]:
    """A worker at `porto` probing ten services every 20 minutes, failing now and then."""
    out: list[Effect] = []
    for index in range(10):
        check = f"{sim.sid(index)}/tcp"
        at = sim.CLOCK_START + timedelta(seconds=index * 61)
        n = 0
        while at < sim.CLOCK_END:
            outcome = Outcome.FAIL if n % 97 == 5 else Outcome.OK
            measurements: dict[str, Measurement] = {"phase_connect": 0.01 * (n % 7), "ms": 12.0}
            result = ProbeResult(check, at, 0.05 + 0.001 * (n % 50), outcome, "", measurements)
            out.append(ResultRecorded(result, in_maintenance=n % 31 == 0, location=PORTO))
            at += PORTO_EVERY
            n += 1
    return out


def figures(store: SqlStore, cat: Catalog, out: Path) -> dict[str, Any]:
    """Every figure of the month, as values and as the files operators get."""
    calendar = MaintenanceCalendar(cat, tuple(store.windows()))
    zone = "Europe/Lisbon"
    report = build_monthly(
        store, cat, calendar, DEFAULT_QUAR, sim.MONTH, sim.REPORT_AT, zone, by_location=True
    )
    files = write_monthly(report, out, ["html", "csv", "json"], "pt")
    indicators = compute_indicators(store, cat, calendar, sim.MONTH, sim.REPORT_AT)
    quarter = build_quarterly(store, cat, calendar, DEFAULT_QUAR, "2026-Q4", sim.REPORT_AT, zone)
    incidents = store.incidents(start=sim.CLOCK_START, end=sim.REPORT_AT)
    reviews = [
        build_review(store, cat, DEFAULT_QUAR, i.id, sim.REPORT_AT, zone, alerts=())
        for i in incidents
    ]
    return {
        "report": report,
        "files": {p.name: p.read_bytes() for p in files},
        "indicators": json.dumps(to_json(indicators, DEFAULT_QUAR), sort_keys=True),
        "quarter": render_quarterly(quarter, "pt"),
        "incidents": incidents,
        "reviews": [(r.results, render_review(r, "pt")) for r in reviews],
        "locations": store.location_outcomes(sim.MONTH.start, sim.MONTH.end),
        "rollups": store.check_rollups(service=None, start=sim.MONTH.start, end=sim.MONTH.end),
        "transitions": [
            store.transitions(s.id, sim.CLOCK_START, sim.REPORT_AT) for s in cat.services
        ],
    }


def raw_rows(store: SqlStore) -> int:
    with store.transaction() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.probe_results)).scalar_one()
        )


@pytest.fixture
def month(store_url: str) -> Iterator[tuple[SqlStore, Catalog]]:  # noqa: F811
    store = SqlStore.open(store_url)
    cat = sim.simulate(store)
    store.apply(porto_results())
    yield store, cat
    store.close()


def test_compacting_the_month_changes_no_figure(
    month: tuple[SqlStore, Catalog], tmp_path: Path
) -> None:
    store, cat = month
    before = figures(store, cat, tmp_path / "before")
    assert before["report"].by_location, "the appendix of probes by location is compared too"
    assert any(results for results, _ in before["reviews"])
    rows = raw_rows(store)

    rolled = kept = 0
    while not (step := store.compact(sim.REPORT_AT, timedelta(hours=1), limit=500)).done:
        rolled, kept = rolled + step.rolled_up, kept + step.kept
    assert rolled > rows / 2, "most of the month was ok, far from any change"
    assert raw_rows(store) == rows - rolled and kept > 0

    after = figures(store, cat, tmp_path / "after")
    for name, value in before.items():
        assert after[name] == value, name
