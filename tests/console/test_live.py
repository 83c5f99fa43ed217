"""Live board updates: only what changed since the page's tokens, the whole part otherwise."""

from __future__ import annotations

import re
from typing import Any

from agent.api.context import Live
from agent.console.live import RECONCILE_SECONDS, RowLog, TileLog, Versions
from agent.records import ServiceStatus
from alerting import alert_store
from checks.result import Outcome, ProbeResult
from tests.api.conftest import Running


async def _board(running: Running) -> dict[str, str]:
    """Sign in as a viewer, open the board; the tokens the page holds."""
    await running.client.post("/login", data={"token": running.tokens["viewer"], "next": "/"})
    html = (await running.client.get("/")).text
    return dict(re.findall(r'data-section="(\w+)" data-digest="([^"]*)"', html))


async def _live(running: Running, tokens: dict[str, str]) -> dict[str, Any]:
    have = ",".join(f"{name}:{token}" for name, token in tokens.items())
    response = await running.client.get("/board/live", params={"have": have, "v": 2})
    assert response.status_code == 200
    sections: dict[str, Any] = response.json()["sections"]
    return sections


def _follow(tokens: dict[str, str], sections: dict[str, Any]) -> dict[str, str]:
    return tokens | {name: part["digest"] for name, part in sections.items()}


async def test_a_live_update_sends_only_the_tiles_that_changed(running: Running) -> None:
    tokens = await _board(running)
    await running.outage("mail/heartbeat")
    sent = await _live(running, tokens)
    assert "html" not in sent["tiles"]
    assert set(sent["tiles"]["tiles"]) == {"mail"}
    assert 'id="tile-mail"' in sent["tiles"]["tiles"]["mail"]
    assert 'data-state="down"' in sent["tiles"]["tiles"]["mail"]
    assert sent["summary"]["html"].count('data-count="down">1<') == 1
    again = await _live(running, _follow(tokens, sent))
    assert "tiles" not in again and "incidents" not in again and "summary" not in again


async def test_an_unknown_cursor_gets_the_whole_grid(running: Running) -> None:
    tokens = await _board(running)
    epoch, lang, version = tokens["tiles"].split(".")
    for stale in ("", "nonsense", f"other.{lang}.{version}", f"{epoch}.en.{version}",
                  f"{epoch}.{lang}.999999"):  # fmt: skip
        sent = await _live(running, tokens | {"tiles": stale, "incidents": stale})
        grid = sent["tiles"]["html"]
        assert all(f'id="tile-{sid}"' in grid for sid in ("portal", "batch", "mail")), stale
        assert "tiles" not in sent["tiles"]
        assert "html" in sent["incidents"], stale
        assert sent["tiles"]["digest"] == tokens["tiles"]  # nothing changed: the same cursor


async def test_a_page_from_before_the_row_protocol_gets_whole_parts(running: Running) -> None:
    """A wall screen left open across an upgrade polls without `v=2`: digests, whole parts."""
    await _board(running)
    await running.outage("mail/heartbeat")
    first = (await running.client.get("/board/live")).json()["sections"]
    assert 'id="tile-mail"' in first["tiles"]["html"] and "html" in first["incidents"]
    have = ",".join(f"{name}:{part['digest']}" for name, part in first.items())
    again = (await running.client.get("/board/live", params={"have": have})).json()["sections"]
    assert "tiles" not in again and "incidents" not in again


async def test_incident_rows_come_and_go_by_row(running: Running) -> None:
    tokens = await _board(running)
    incident = await running.outage("portal/heartbeat")
    sent = await _live(running, tokens)
    rows = sent["incidents"]
    assert "html" not in rows and rows["order"] == [str(incident.id)]
    assert f'data-row="{incident.id}"' in rows["rows"][str(incident.id)]
    assert 'class="badge lvl-ok"' in rows["rows"][str(incident.id)]
    tokens = _follow(tokens, sent)
    restored = ProbeResult("portal/heartbeat", running.agent.clock.now(), 0.1, Outcome.OK)
    running.agent.observe(restored, "heartbeat")
    await running.agent.writer.drain()
    sent = await _live(running, tokens)
    assert sent["incidents"]["order"] == [] and sent["incidents"]["rows"] == {}
    assert 'data-state="up"' in sent["tiles"]["tiles"]["portal"]


async def test_an_alert_row_changes_when_it_is_acknowledged(running: Running) -> None:
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    await running.client.post("/login", data={"token": running.tokens["operator"], "next": "/"})
    page = (await running.client.get("/")).text
    tokens = dict(re.findall(r'data-section="(\w+)" data-digest="([^"]*)"', page))
    assert 'data-row="ServiceDown/portal"' in page and 'action="/alerts/ack"' in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "alert_id": "ServiceDown/portal", "comment": "visto"}
    assert (await running.client.post("/alerts/ack", data=form)).status_code == 303
    sent = await _live(running, tokens)
    row = sent["alerts"]["rows"]["ServiceDown/portal"]
    assert "Reconhecido por operator-token" in row and "visto" in row
    assert "ServiceDown/portal" in sent["alerts"]["order"]


async def test_an_alert_shown_before_the_store_has_it_can_be_acknowledged(
    running: Running,
) -> None:
    await running.outage("portal/heartbeat")
    assert "ServiceDown/portal" in running.agent.alerting.evaluator.alerts  # the board shows it
    assert alert_store.load_alerts(running.store) == []  # saved at the next tick, up to 5 s on
    ack = await running.client.post(
        "/api/v1/alerts/ServiceDown/portal/ack", json={}, headers=running.auth("operator")
    )
    assert ack.status_code == 202


# ---- the logs behind it -------------------------------------------------------------------


class _Counting(Live):
    def __init__(self, running: Running) -> None:
        super().__init__(running.agent)
        self.asked: list[str] = []

    def service(self, sid: str) -> ServiceStatus:
        self.asked.append(sid)
        return super().service(sid)


async def test_the_tiles_log_looks_only_at_services_with_new_results(running: Running) -> None:
    seen: list[str] = []
    running.agent.subscribe(lambda result: seen.append(result.check))  # another subscriber
    now = [0.0]
    log = TileLog(running.agent, clock=lambda: now[0])
    log.attach()
    view = _Counting(running)
    log.sync(view, set())
    assert sorted(view.asked) == ["batch", "mail", "portal"]  # the first pass sees every one
    start = log.cursor("pt")
    view.asked.clear()
    await running.outage("mail/heartbeat")
    log.sync(view, set())
    assert view.asked == ["mail"] and seen == ["mail/heartbeat", "mail/heartbeat"]
    assert log.since(start, "pt") == {"mail"} and log.tiles["mail"].state == "down"
    assert log.counts["down"] == 1 and log.open == {"mail"}
    view.asked.clear()
    log.sync(view, {"batch"})  # entering maintenance
    assert view.asked == ["batch"] and log.tiles["batch"].state == "maintenance"
    view.asked.clear()
    now[0] += RECONCILE_SECONDS
    log.sync(view, {"batch"})  # the safety net: every service again
    assert sorted(view.asked) == ["batch", "mail", "portal"]
    assert log.since(start, "pt") == {"mail", "batch"}


def test_a_cursor_older_than_the_log_keeps_is_unknown() -> None:
    versions = Versions(keep=3)
    start = versions.cursor("pt")
    for ident in "abc":
        versions.bump(ident)
    assert versions.since(start, "pt") == {"a", "b", "c"}
    versions.bump("d")
    assert versions.since(start, "pt") is None
    assert versions.since(versions.cursor("pt"), "pt") == set()
    assert versions.since(versions.cursor("pt"), "en") is None


def test_the_rows_log_marks_rows_added_changed_and_removed() -> None:
    rows = RowLog()
    rows.update([("1", ("ok",)), ("2", ("ok",))])
    start = rows.cursor("pt")
    rows.update([("1", ("ok",)), ("2", ("late",)), ("3", ("ok",))])
    assert rows.since(start, "pt") == {"2", "3"}
    middle = rows.cursor("pt")
    rows.update([("2", ("late",)), ("3", ("ok",))])
    assert rows.since(middle, "pt") == {"1"} and set(rows.keys) == {"2", "3"}
