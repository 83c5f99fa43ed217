"""The incident review and the monthly report name the locations whose DOWN formed the quorum,
each probe's location, and flag an incident made or changed by late results (semantics.md §8)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from agent.catalog.loader import load_text
from agent.indicators.periods import parse_period
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.reports.incident_review import build_review, render_review
from agent.reports.monthly import build_monthly, render_html, report_json
from agent.reports.monthly_model import PlatinumRow
from agent.store.sql import SqlStore
from tests.api.test_probe_api import Core, batch, core, wire  # noqa: F401 (fixture)
from tests.reports.test_csv_formulas import CATALOG

URL = "/api/v1/probe/results"


async def _outage(core: Core) -> int:  # noqa: F811
    fails = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240, "fail")]
    for who in ("porto", "lisboa"):
        reply = await core.client.post(URL, json=batch(who, fails), headers=core.auth(who))
        assert reply.status_code == 200
    [incident] = core.store.incidents(service="portal")
    return incident.id


async def test_the_incident_review_names_the_quorum_and_each_probe_s_location(
    core: Core,  # noqa: F811
) -> None:
    incident_id = await _outage(core)
    now = datetime.now(UTC)
    review = build_review(core.store, core.agent.catalog, QuarConfig(), incident_id, now, "UTC")
    assert {r.location for r in review.results} == {"porto", "lisboa"}
    page = render_review(review, "pt")
    assert "Locais que formaram o quórum</dt><dd>lisboa, porto" in page
    assert "<td>porto</td>" in page and "<td>lisboa</td>" in page
    assert "retroativo" not in page


async def test_the_monthly_report_flags_a_retroactive_incident_and_lists_its_locations(
    core: Core,  # noqa: F811
) -> None:
    incident = core.store.incident(await _outage(core))
    assert incident is not None
    now = datetime.now(UTC)
    month = parse_period(f"{now:%Y-%m}", "UTC")
    report = build_monthly(
        core.store, core.agent.catalog, core.agent.calendar, QuarConfig(), month, now, "UTC"
    )
    # the test catalogue's portal is not in the continuity plan: put its incident in the table
    row = PlatinumRow(incident, counted=False, restore_seconds=None)
    listed = dataclasses.replace(report, platinum=(row,))
    assert report_json(listed)["platinum_incidents"][0]["locations"] == ["lisboa", "porto"]
    assert report_json(listed)["platinum_incidents"][0]["retroactive"] is False
    late = dataclasses.replace(row, incident=dataclasses.replace(incident, retroactive=True))
    page = render_html(dataclasses.replace(report, platinum=(late,)), "en")
    assert "Locations that formed the quorum: lisboa, porto" in page
    assert "retroactive: created or changed by results that arrived later" in page


async def test_the_appendix_gives_each_location_s_probe_success_and_worst_services(
    core: Core,  # noqa: F811
) -> None:
    porto = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240), wire("portal/beat", 200)]
    lisboa = [wire("portal/beat", 290), wire("intranet/beat", 250, "fail")]
    for who, results in (("porto", porto), ("lisboa", lisboa)):
        reply = await core.client.post(URL, json=batch(who, results), headers=core.auth(who))
        assert reply.status_code == 200
    now = datetime.now(UTC)
    month = parse_period(f"{now:%Y-%m}", "UTC")
    report = build_monthly(
        core.store, core.agent.catalog, core.agent.calendar, QuarConfig(), month, now, "UTC",
        by_location=True,
    )  # fmt: skip
    by_name = {row.location: row for row in report.by_location}
    assert by_name["porto"].probes == 3 and by_name["porto"].success == 2 / 3
    assert by_name["porto"].worst == (("portal", 2 / 3),)
    assert by_name["lisboa"].success == 0.5 and by_name["lisboa"].worst == (("intranet", 0.0),)
    doc = report_json(report)
    assert {row["location"] for row in doc["by_location"]} >= {"porto", "lisboa"}
    assert "Anexo: sondas por local" in render_html(report, "pt")


def test_an_estate_probed_by_the_core_alone_has_no_location_appendix(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        catalog = load_text(CATALOG)
        period = parse_period("2026-10", "UTC")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        calendar = MaintenanceCalendar(catalog)
        report = build_monthly(
            store, catalog, calendar, QuarConfig(), period, now, "UTC", by_location=True
        )
    finally:
        store.close()
    assert report.by_location == ()
    assert "Anexo: sondas por local" not in render_html(report, "pt")
