"""The report archive through the running agent: the scheduled-reports component starts with
the others and makes the due reports at start-up; the API lists them (viewer), downloads them
(checked against their checksum) and re-runs a period (operator, audited, a new version); the
console's reports page lists them with a download link."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from tests.api.conftest import Running


@pytest.fixture
def reports(tmp_path: Path) -> dict[str, object]:
    return {"directory": str(tmp_path / "archive"), "format": "html"}


async def _archived(running: Running, count: int) -> list[dict[str, object]]:
    """The archive once the component has made `count` reports (it ticks at start)."""
    for _ in range(500):
        answer = await running.client.get("/api/v1/reports/archive", headers=running.auth("viewer"))
        assert answer.status_code == 200
        if answer.json()["total"] >= count:
            return list(answer.json()["items"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} reports archived: {answer.json()}")


async def test_the_agent_makes_the_due_reports_at_start(running: Running) -> None:
    assert running.agent.reports is not None
    items = await _archived(running, 2)
    assert sorted(str(i["kind"]) for i in items) == ["monthly", "quarterly"]
    assert {i["version"] for i in items} == {1}
    for item in items:
        answer = await running.client.get(str(item["download"]), headers=running.auth("viewer"))
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == item["sha256"]
        assert answer.headers["x-checksum-sha256"] == item["sha256"]
        assert "attachment" in answer.headers["content-disposition"]


async def test_listing_needs_a_viewer_and_a_rerun_an_operator(running: Running) -> None:
    assert (await running.client.get("/api/v1/reports/archive")).status_code == 401
    body = {"kind": "monthly", "period": "2026-10"}
    viewer = running.auth("viewer")
    answer = await running.client.post("/api/v1/reports/archive", json=body, headers=viewer)
    assert answer.status_code == 403


async def test_a_rerun_is_a_new_version_and_audited(running: Running) -> None:
    await _archived(running, 2)
    body = {"kind": "monthly", "period": "2026-10"}
    operator = running.auth("operator")
    first = await running.client.post("/api/v1/reports/archive", json=body, headers=operator)
    second = await running.client.post("/api/v1/reports/archive", json=body, headers=operator)
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    page = await running.client.get(second.json()["download"], headers=running.auth("viewer"))
    assert "versão 2" in page.text
    audit = await running.client.get("/api/v1/audit", headers=running.auth("admin"))
    actions = [(e["action"], e["detail"].get("version")) for e in audit.json()["items"]]
    assert ("report.rerun", 2) in actions and ("report.rerun", 1) in actions


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"kind": "monthly", "period": "2026-13"}, "a monthly period is YYYY-MM"),
        ({"kind": "quarterly", "period": "2026-10"}, "a quarterly period is YYYY-Qn"),
        ({"kind": "weekly", "period": "2026-10"}, "monthly"),
        ({"kind": "monthly", "period": "2026-10", "lang": "fr"}, "lang"),
    ],
)
async def test_a_bad_rerun_is_a_422_naming_the_field(
    running: Running, body: dict[str, str], needle: str
) -> None:
    answer = await running.client.post(
        "/api/v1/reports/archive", json=body, headers=running.auth("operator")
    )
    assert answer.status_code == 422
    assert needle in answer.text


async def test_an_altered_file_is_refused_not_served(running: Running) -> None:
    (item, *_) = await _archived(running, 2)
    assert running.agent.reports is not None
    rows = running.agent.reports.archive.versions(str(item["kind"]), str(item["period"]))
    Path(rows[0].path).write_text("tampered", encoding="utf-8")
    answer = await running.client.get(str(item["download"]), headers=running.auth("viewer"))
    assert answer.status_code == 409 and "checksum" in answer.json()["detail"]
    viewer = running.auth("viewer")
    missing = await running.client.get("/api/v1/reports/archive/999", headers=viewer)
    assert missing.status_code == 404


async def test_the_console_reports_page_lists_the_archive(running: Running) -> None:
    items = await _archived(running, 2)
    signed_in = await running.client.post(
        "/login", data={"token": running.tokens["viewer"], "next": "/reports"}
    )
    assert signed_in.status_code == 303
    html = (await running.client.get("/reports")).text
    assert 'id="archived"' in html
    for item in items:
        assert f'href="/reports/archive/{item["id"]}"' in html
        download = await running.client.get(f"/reports/archive/{item['id']}")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == item["sha256"]
    assert (await running.client.get("/reports/archive/77")).status_code == 404
    running.client.cookies.clear()
    assert (await running.client.get(f"/reports/archive/{items[0]['id']}")).status_code == 303


async def test_a_rerun_with_scheduled_reports_off_is_a_409(running: Running) -> None:
    await _archived(running, 2)
    reports, running.agent.reports = running.agent.reports, None  # as without `reports:`
    try:
        answer = await running.client.post(
            "/api/v1/reports/archive",
            json={"kind": "monthly", "period": "2026-10"},
            headers=running.auth("operator"),
        )
    finally:
        running.agent.reports = reports
    assert answer.status_code == 409 and "reports:" in answer.json()["detail"]
    listed = await running.client.get("/api/v1/reports/archive", headers=running.auth("viewer"))
    assert listed.json()["total"] == 2  # the archive stays readable
