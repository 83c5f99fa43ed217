"""The incident review and the monthly report name the locations whose DOWN formed the quorum,
each probe's location, and flag an incident made or changed by late results (semantics.md §8)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from agent.periods import parse_period
from agent.quar_config import QuarConfig
from agent.reports.incident_review import build_review, render_review
from agent.reports.monthly import PlatinumRow, build_monthly, render_html, report_json
from tests.api.test_probe_api import Core, batch, core, wire  # noqa: F401 (fixture)

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
