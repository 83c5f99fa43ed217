"""Incident review and annotations, through the real engine, store and `vigia` command line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.catalog.loader import load
from agent.cli import main
from agent.engine import Engine
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.reports.incident_review import build_review, render_review
from agent.store.sql import SqlStore
from alerting.alert_store import request_ack
from alerting.notification import AlertStatus, Notification
from alerting.outbox import Outbox
from checks.result import Outcome, ProbeResult

CATALOG = """\
version: 1
defaults: {interval: 60s, timeout: 10s, confirm_down: 3, confirm_up: 2}
tiers:
  platina: {severity: critical}
  ouro: {severity: major}
services:
  - id: portal
    name: Portal <do> Cidadão
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    owner: DAD
    depends_on: [idp]
    checks:
      - tcp: {host: portal.example, port: 443}
  - id: idp
    name: Autenticação
    macro_service: comunicacoes
    tier: ouro
    owner: DIC
    checks:
      - tcp: {host: idp.example, port: 443}
"""
T0 = datetime(2026, 10, 7, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A catalogue file and a database where idp and then portal failed 09:05-09:47."""
    monkeypatch.chdir(tmp_path)
    catalog_file = tmp_path / "services.yaml"
    catalog_file.write_text(CATALOG, encoding="utf-8")
    db = tmp_path / "vigia.db"
    cat = load(str(catalog_file))
    engine = Engine(cat, MaintenanceCalendar(cat))
    effects = []
    for minute in range(0, 60):
        for service, start, end in (("idp", 5, 47), ("portal", 5.5, 47.5)):
            failing = start <= minute + (0.5 if service == "portal" else 0) < end
            outcome = Outcome.FAIL if failing else Outcome.OK
            reason = "connection refused" if failing else ""
            offset = 0.5 if service == "portal" else 0
            result = ProbeResult(f"{service}/tcp", at(minute + offset), 0.042, outcome, reason)
            effects += engine.observe(result)
    store = SqlStore.open(f"sqlite:///{db}")
    store.apply(effects)
    store.close()
    return catalog_file, db


def vigia(setup: tuple[Path, Path], *args: str) -> int:
    catalog_file, db = setup
    return main(["--catalog", str(catalog_file), "--db", f"sqlite:///{db}", *args])


def portal_incident(db: Path) -> int:
    store = SqlStore.open(f"sqlite:///{db}")
    try:
        return store.incidents(service="portal")[0].id
    finally:
        store.close()


def test_annotate_adds_a_note_and_never_edits_the_incident(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = portal_incident(setup[1])
    store = SqlStore.open(f"sqlite:///{setup[1]}")
    before = store.incident(incident_id)
    store.close()
    code = vigia(setup, "incidents", "annotate", str(incident_id), "--field", "cause",
                 "--text", "certificado expirado no IdP", "--author", "ana", "--json")  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["field"], printed["author"]) == ("cause", "ana")
    store = SqlStore.open(f"sqlite:///{setup[1]}")
    assert store.incident(incident_id) == before
    assert [a.text for a in store.annotations(incident_id)] == ["certificado expirado no IdP"]
    store.close()


def test_incidents_still_lists_without_an_action(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert vigia(setup, "incidents", "--json") == 0
    assert {r["service"] for r in json.loads(capsys.readouterr().out)} == {"idp", "portal"}


def test_annotating_a_missing_incident_fails_cleanly(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = vigia(setup, "incidents", "annotate", "999", "--field", "note", "--text", "x",
                 "--author", "ana")  # fmt: skip
    assert code == 2
    assert "incident 999 does not exist" in capsys.readouterr().err


def test_review_page_has_timeline_root_cause_probes_and_review_fields(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    incident_id = portal_incident(setup[1])
    for field, text in (("impact", "cidadãos sem acesso"), ("action", "renovar <cert>")):
        assert vigia(setup, "incidents", "annotate", str(incident_id), "--field", field,
                     "--text", text, "--author", "rui") == 0  # fmt: skip
    out = tmp_path / "out"
    assert vigia(setup, "report", "incident", str(incident_id), "--out", str(out)) == 0
    html = (out / f"vigia-incidente-{incident_id}.html").read_text(encoding="utf-8")
    assert "Portal &lt;do&gt; Cidadão" in html and "renovar &lt;cert&gt;" in html  # escaped
    assert "Causa raiz" in html and ">idp<" in html
    assert "sem alertas registados" in html
    assert "Primeira sonda falhada" in html and "Primeira sonda bem-sucedida" in html
    assert "connection refused" in html and ">42<" in html  # reason and latency in ms
    review = html.split('id="review"')[1].split("</section>")[0]
    assert "cidadãos sem acesso" in review and "por preencher" in review  # cause not filled


def test_review_restore_time_is_compared_with_the_meta(setup: tuple[Path, Path]) -> None:
    store = SqlStore.open(f"sqlite:///{setup[1]}")
    try:
        cat = load(str(setup[0]))
        review = build_review(store, cat, DEFAULT_QUAR, portal_incident(setup[1]), at(120), "UTC")
    finally:
        store.close()
    assert review.incident.started_at == at(5.5)
    assert review.incident.ended_at == at(47.5)
    assert review.incident.restore_seconds == 42 * 60
    assert review.within_meta is False  # 42 min against 35
    assert [e.label for e in review.timeline][:2] == ["first_fail", "confirmed"]
    html = render_review(review, "en")
    assert "Incident review" in html and "no alerts recorded" in html


def notify(
    store: SqlStore,
    alert_id: str,
    receivers: list[str],
    queued: datetime,
    delivered: datetime | None,
    ends_at: datetime | None = None,
) -> None:
    """A notification of an alert that fired at `queued` (resolved at `ends_at` if given),
    queued then for `receivers` and, unless `delivered` is None, delivered at `delivered`."""
    outbox = Outbox(store)
    status = AlertStatus.RESOLVED if ends_at else AlertStatus.FIRING
    labels = {"alertname": alert_id.split("/")[0], "severity": "critical"}
    notification = Notification(alert_id, status, labels, {}, starts_at=queued, ends_at=ends_at)
    before = {i.id for i in outbox.history(alert_id)}
    outbox.enqueue([notification], receivers, queued)
    if delivered is not None:
        new = [i.id for i in outbox.history(alert_id) if i.id not in before]
        outbox.mark_delivered(new, delivered)


def test_review_lists_alerts_sent_to_whom_and_acknowledgements(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    incident_id = portal_incident(setup[1])  # 09:05:30 - 09:47:30
    store = SqlStore.open(f"sqlite:///{setup[1]}")
    try:
        notify(store, "ServiceDown/portal", ["alertmanager", "noc-mail"], at(8), at(8.25))
        notify(store, "Latency/portal/tcp", ["noc-webhook"], at(6), at(6.5))
        notify(store, "ServiceDown/portal", ["alertmanager"], at(47.5), at(47.75), at(47.5))
        notify(store, "ServiceDown/portal", ["pager"], at(50), None, at(50))  # still queued
        request_ack(store, "ServiceDown/portal", "ana", "a ver o IdP", at(12))
        # not this incident's: another service, a look-alike id, an older outage, an old ack
        notify(store, "ServiceDown/idp", ["idp-team"], at(7), at(7.5))
        notify(store, "ServiceDown/portal-admin", ["admin-team"], at(8), at(8.5))
        notify(store, "ServiceDown/portal", ["old-receiver"], T0 - timedelta(days=2), T0)
        request_ack(store, "ServiceDown/portal", "rui", "antigo", T0 - timedelta(days=2))
        review = build_review(store, load(str(setup[0])), DEFAULT_QUAR, incident_id, at(120), "UTC")
    finally:
        store.close()
    got = [(e.at, e.kind, e.receiver) for e in review.alerts]
    assert got == [
        (at(6.5), "sent", "noc-webhook"),
        (at(8.25), "sent", "alertmanager"),
        (at(8.25), "sent", "noc-mail"),
        (at(12), "acknowledged", "ana"),
        (at(47.75), "resolved", "alertmanager"),
        (at(50), "pending", "pager"),
    ]
    assert [e.label for e in review.timeline].count("alerts") == len(got)
    html = render_review(review, "pt")
    alerts = html.split('id="alerts"')[1].split("</section>")[0]
    assert "sem alertas registados" not in html
    rows = [
        ("09:06:30", "sent", "noc-webhook"), ("09:08:15", "sent", "alertmanager"),
        ("09:08:15", "sent", "noc-mail"), ("09:12:00", "acknowledged", "ana"),
        ("09:47:45", "resolved", "alertmanager"), ("09:50:00", "pending", "pager"),
    ]  # fmt: skip
    for when, kind, who in rows:
        assert f"<td>2026-10-07 {when}</td><td>{kind}</td><td>{who}</td>" in alerts, who
    assert "a ver o IdP" in alerts and "ServiceDown/portal" in alerts
    for other in ("idp-team", "admin-team", "old-receiver", "antigo"):
        assert other not in html, other
    # the command line reads them too
    out = tmp_path / "out"
    assert vigia(setup, "report", "incident", str(incident_id), "--out", str(out)) == 0
    page = (out / f"vigia-incidente-{incident_id}.html").read_text(encoding="utf-8")
    assert "noc-mail" in page and "sem alertas registados" not in page


def test_missing_incident_report_fails_cleanly(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vigia(setup, "report", "incident", "999", "--out", str(tmp_path)) == 2
    assert "does not exist" in capsys.readouterr().err


def test_monthly_command_writes_html_csv_and_json(setup: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "monthly"
    code = vigia(setup, "report", "monthly", "--month", "2026-10", "--out", str(out),
                 "--format", "html,csv,json", "--lang", "en")  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "vigia-2026-10-quar.csv", "vigia-2026-10-servicos.csv", "vigia-2026-10.html",
        "vigia-2026-10.json",
    ]  # fmt: skip
    doc = json.loads((out / "vigia-2026-10.json").read_text())
    assert doc["ind4"]["count"] == 1 and doc["ind4"]["value"] == 42


def test_monthly_command_writes_a_pdf_with_the_extra(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the pango libraries are missing
        pytest.skip(f"PDF extra not usable here (pip install 'vigia[pdf]'; CI has it): {exc}")
    out = tmp_path / "monthly"
    code = vigia(setup, "report", "monthly", "--month", "2026-10", "--out", str(out),
                 "--format", "pdf")  # fmt: skip
    assert code == 0
    assert (out / "vigia-2026-10.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_without_the_extra_gives_a_clear_message(
    setup: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    code = vigia(setup, "report", "monthly", "--month", "2026-10", "--out", str(tmp_path),
                 "--format", "pdf")  # fmt: skip
    assert code == 2
    assert "pip install 'vigia[pdf]'" in capsys.readouterr().err


def test_unknown_format_is_refused(setup: tuple[Path, Path], tmp_path: Path) -> None:
    code = vigia(setup, "report", "monthly", "--month", "2026-10", "--out", str(tmp_path),
                 "--format", "docx")  # fmt: skip
    assert code == 2
