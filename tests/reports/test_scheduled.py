"""Scheduled reports with an injected clock, a real SQLite file and a real loopback SMTP server:
made once per period across restarts, a missed firing made at start-up, archived with a
checksum, a re-run made as a new version beside the first, e-mailed with the file attached."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.loader import load
from agent.catalog.model import Catalog
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.scheduled_reports.component import build_scheduler
from agent.scheduled_reports.config import ReportsConfig
from agent.scheduled_reports.making import period_before
from agent.scheduled_reports.scheduler import MAIL_RETRY_SECONDS, ReportScheduler
from agent.settings import SettingsError, load_settings
from agent.store.sql import SqlStore
from checks.clock import ManualClock
from checks.result import Outcome, ProbeResult
from tests.alerting.servers import SmtpServer
from tests.api.conftest import CATALOG  # three services, heartbeat checks only

LISBON = "Europe/Lisbon"


@dataclass
class Site:
    """A catalogue, a SQLite file and an archive directory shared by successive agents."""

    tmp: Path
    catalog: Catalog
    db: str
    archive: Path

    def scheduler(
        self, clock: ManualClock, sleep: Any = asyncio.sleep, **reports: Any
    ) -> tuple[ReportScheduler, SqlStore]:
        """One agent's scheduler on its own store object: a restart is a new one."""
        store = SqlStore.open(self.db)
        config = ReportsConfig.model_validate({"directory": str(self.archive), **reports})
        calendar = MaintenanceCalendar(self.catalog, [])
        scheduler = build_scheduler(
            config, store, clock, LISBON,
            lambda: self.catalog, lambda: calendar, lambda: DEFAULT_QUAR, sleep,
        )  # fmt: skip
        return scheduler, store


@pytest.fixture
def site(tmp_path: Path) -> Site:
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return Site(tmp_path, load(path), f"sqlite:///{tmp_path / 'vigia.db'}", tmp_path / "archive")


def lisbon(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    from zoneinfo import ZoneInfo

    local = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(LISBON))
    return local.astimezone(UTC)


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


MONTHLY_HTML = {"format": "html", "quarterly": {"enabled": False}}


# ---- when ---------------------------------------------------------------------------------


def test_the_default_schedule_is_the_first_at_eight_in_lisbon(site: Site) -> None:
    scheduler, store = site.scheduler(ManualClock(lisbon(2026, 7, 15, 12, 0)))
    try:
        assert scheduler.last_firing("monthly", lisbon(2026, 7, 1, 7, 59)) == lisbon(
            2026, 6, 1, 8, 0
        )
        assert scheduler.last_firing("monthly", lisbon(2026, 7, 1, 8, 0)) == lisbon(2026, 7, 1, 8)
        assert scheduler.last_firing("quarterly", lisbon(2026, 9, 30, 23)) == lisbon(2026, 7, 1, 8)
        assert scheduler.due(lisbon(2026, 7, 1, 8, 0)) == [
            ("monthly", "2026-06"),
            ("quarterly", "2026-Q2"),
        ]
    finally:
        store.close()


def test_the_period_reported_is_the_one_before_the_local_day() -> None:
    assert period_before("monthly", lisbon(2026, 1, 1, 8), LISBON) == "2025-12"
    assert period_before("quarterly", lisbon(2026, 1, 1, 8), LISBON) == "2025-Q4"
    assert period_before("quarterly", lisbon(2026, 4, 1, 8), LISBON) == "2026-Q1"
    # 00:30 on 1 November in Lisbon is still 31 October in UTC: the local day decides
    assert period_before("monthly", lisbon(2026, 11, 1, 0, 30), LISBON) == "2026-10"


def test_the_cron_zone_sets_the_firing_and_the_settings_zone_the_period(site: Site) -> None:
    """08:00 on 1 November in Tokyo is still 31 October in Lisbon: October is not over there,
    so that firing reports on September."""
    clock = ManualClock(lisbon(2026, 11, 2, 12, 0))
    scheduler, store = site.scheduler(clock, timezone="Asia/Tokyo", quarterly={"enabled": False})
    try:
        fired = scheduler.last_firing("monthly", lisbon(2026, 10, 31, 23, 30))
        assert fired == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
        assert scheduler.due(lisbon(2026, 10, 31, 23, 30)) == [("monthly", "2026-09")]
    finally:
        store.close()


# ---- once per period, across restarts -----------------------------------------------------


async def test_made_once_per_period_across_a_restart(site: Site) -> None:
    clock = ManualClock(lisbon(2026, 11, 1, 7, 59, 59))
    first, store = site.scheduler(clock, **MONTHLY_HTML)
    made = await first.tick()
    # nothing archived yet: the 1 October firing was missed and is made at start
    assert [(a.kind, a.period, a.version) for a in made] == [("monthly", "2026-09", 1)]
    assert await first.tick() == []
    clock.set(lisbon(2026, 11, 1, 8, 0, 0))
    made = await first.tick()
    assert [(a.period, a.version) for a in made] == [("2026-10", 1)]
    assert await first.tick() == []
    store.close()

    # a restart a minute later: a new scheduler and store on the same database
    clock.advance(60)
    second, store = site.scheduler(clock, **MONTHLY_HTML)
    assert await second.tick() == []
    assert [a.version for a in second.archive.versions("monthly", "2026-10")] == [1]
    assert len(files(site.archive)) == 2
    store.close()


async def test_a_firing_missed_while_down_is_made_at_start_up(site: Site) -> None:
    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 5))
    first, store = site.scheduler(clock, **MONTHLY_HTML)
    assert [a.period for a in await first.tick()] == ["2026-10"]
    store.close()  # down from 30 November to 3 December: 1 December 08:00 missed

    clock.set(lisbon(2026, 12, 3, 14, 0))
    second, store = site.scheduler(clock, **MONTHLY_HTML)
    made = await second.tick()
    assert [(a.period, a.made_at) for a in made] == [("2026-11", clock.now())]
    assert await second.tick() == []
    store.close()


async def test_a_tick_that_keeps_failing_is_logged_once_and_retried(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # the PDF extra missing
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise asyncio.CancelledError

    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 1))
    scheduler, store = site.scheduler(clock, sleep, quarterly={"enabled": False})
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(asyncio.CancelledError):
            await scheduler.run()
        assert sleeps == [scheduler.poll] * 3 and scheduler.failures == 3
        assert caplog.text.count("a tick failed") == 1
        assert "pip install 'vigia[pdf]'" in caplog.text
        assert scheduler.archive.versions("monthly", "2026-10") == []  # made when it can be
        assert files(site.archive) == []
    finally:
        store.close()


# ---- archive: checksum, versions, never overwritten ---------------------------------------


async def test_archived_with_a_checksum_and_a_rerun_is_version_2(site: Site) -> None:
    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 1))
    scheduler, store = site.scheduler(clock, **MONTHLY_HTML)
    try:
        (first,) = await scheduler.tick()
        assert sha(first.path) == first.sha256 and Path(first.path).stat().st_size == first.bytes
        assert Path(first.path).is_relative_to(site.archive)
        first_bytes = Path(first.path).read_bytes()
        assert "versão 1" in first_bytes.decode()

        clock.advance(3600)
        second = await scheduler.rerun("monthly", "2026-10")
        assert (second.period, second.version) == ("2026-10", 2)
        assert second.path != first.path
        assert Path(first.path).read_bytes() == first_bytes  # version 1 untouched
        assert sha(second.path) == second.sha256
        assert "versão 2" in Path(second.path).read_text(encoding="utf-8")
        versions = scheduler.archive.versions("monthly", "2026-10")
        assert [(a.version, a.sha256) for a in versions] == [(1, first.sha256), (2, second.sha256)]
        assert await scheduler.tick() == []  # a re-run is not a reason to make it again
    finally:
        store.close()


async def test_a_version_taken_by_another_node_is_not_made_twice(site: Site) -> None:
    """Two nodes on the same database, both due: one archives version 1, the other stops."""
    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 1))
    one, store_one = site.scheduler(clock, **MONTHLY_HTML)
    two, store_two = site.scheduler(clock, **MONTHLY_HTML)
    try:
        made = await one.tick()
        two_versions = two.archive.versions
        two.archive.versions = lambda kind, period: []  # type: ignore[method-assign]  # raced
        assert await two.tick() == []
        two.archive.versions = two_versions  # type: ignore[method-assign]
        assert [a.version for a in two.archive.versions("monthly", "2026-10")] == [1]
        assert files(site.archive) == [Path(made[0].path)]  # the loser removed its file
    finally:
        store_one.close()
        store_two.close()


# ---- e-mail -------------------------------------------------------------------------------

trustme = pytest.importorskip("trustme", reason="trustme (test extra) makes the SMTP certificate")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    pytest.importorskip("aiosmtpd", reason="aiosmtpd (test extra) runs the SMTP server")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SmtpServer(server_context, password="mail-s3cret") as server:
        yield server, ca_file


def pdf_extra() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"PDF extra not usable here (pip install 'vigia[pdf]'; CI has it): {exc}")


async def test_emailed_with_the_pdf_attached(
    site: Site, smtp: tuple[SmtpServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Settings read from vigia.yaml with the password as ${SMTP_PASSWORD}; STARTTLS and AUTH
    through the alerting e-mail receiver; the PDF attached is the archived file."""
    pdf_extra()
    server, ca_file = smtp
    settings_file = site.tmp / "vigia.yaml"
    settings_file.write_text(
        f"""\
reports:
  directory: {site.archive}
  quarterly: {{enabled: false}}
  email:
    host: 127.0.0.1
    port: {server.port}
    ca_file: {ca_file}
    from: vigia@example.pt
    to: [direccao@example.pt, cco@example.pt]
    username: vigia
    password: "${{SMTP_PASSWORD}}"
""",
        encoding="utf-8",
    )
    settings = load_settings(str(settings_file), environ={"SMTP_PASSWORD": "mail-s3cret"})
    assert settings.reports is not None and settings.reports.email is not None
    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 2))
    store = SqlStore.open(site.db)
    try:
        await _observe_an_outage(store, site.catalog)
        calendar = MaintenanceCalendar(site.catalog, [])
        scheduler = build_scheduler(
            settings.reports, store, clock, LISBON,
            lambda: site.catalog, lambda: calendar, lambda: DEFAULT_QUAR,
        )  # fmt: skip
        with caplog.at_level(logging.DEBUG):
            (archived,) = await scheduler.tick()
        (row,) = scheduler.archive.versions("monthly", "2026-10")
    finally:
        store.close()
    assert scheduler.failures == 0 and row.mailed_at == clock.now()
    assert archived.path.endswith(".pdf") and sha(archived.path) == archived.sha256

    (envelope,) = server.messages
    assert envelope.mail_from == "vigia@example.pt"
    assert envelope.rcpt_tos == ["direccao@example.pt", "cco@example.pt"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert "2026-10" in message["Subject"] and "versão 1" in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None and archived.sha256 in body.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == Path(archived.path).name
    content = attachment.get_content()
    assert content.startswith(b"%PDF")
    assert hashlib.sha256(content).hexdigest() == archived.sha256
    assert "mail-s3cret" not in caplog.text and b"mail-s3cret" not in envelope.content


async def _observe_an_outage(store: SqlStore, catalog: Catalog) -> None:
    """A real outage in October, through the engine, so the PDF has figures."""
    from agent.engine import Engine

    engine = Engine(catalog, MaintenanceCalendar(catalog, []), store.load_snapshot())
    check = catalog.by_id["portal"].checks[0].id
    for moment, outcome in (
        (lisbon(2026, 10, 10, 9, 0), Outcome.OK),
        (lisbon(2026, 10, 10, 10, 0), Outcome.FAIL),
        (lisbon(2026, 10, 10, 10, 1), Outcome.FAIL),
        (lisbon(2026, 10, 12, 9, 0), Outcome.OK),
    ):
        store.apply(engine.observe(ProbeResult(check, moment, 0.1, outcome), "local"))
    assert store.incidents(service="portal")


async def test_a_refused_email_is_logged_then_retried_and_the_report_stays_archived(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpServer(None)  # a plain relay, not started yet: its port refuses connections
    email_settings = {"host": "127.0.0.1", "port": server.port, "starttls": False}
    email_settings |= {"from": "vigia@example.pt", "to": ["cco@example.pt"], "timeout": 2}
    clock = ManualClock(lisbon(2026, 11, 1, 8, 0, 3))
    scheduler, store = site.scheduler(clock, email=email_settings, **MONTHLY_HTML)
    try:
        with caplog.at_level(logging.ERROR):
            (archived,) = await scheduler.tick()
        assert scheduler.failures == 1
        assert f"127.0.0.1:{server.port}" in caplog.text and "not e-mailed" in caplog.text
        assert Path(archived.path).exists() and archived.mailed_at is None
        with server:
            clock.advance(MAIL_RETRY_SECONDS - 1)
            assert await scheduler.tick() == []  # archived: not made again; not retried yet
            assert server.messages == []
            clock.advance(1)
            assert await scheduler.tick() == []
            (envelope,) = server.messages  # the retry went out
            clock.advance(MAIL_RETRY_SECONDS)
            await scheduler.tick()
            assert len(server.messages) == 1  # and only once
        (row,) = scheduler.archive.versions("monthly", "2026-10")
        assert row.mailed_at == lisbon(2026, 11, 1, 8, 15, 3)
        assert archived.filename.encode() in envelope.content
    finally:
        store.close()


# ---- the quarterly summary ----------------------------------------------------------------


async def test_the_quarterly_summary_grades_the_quarter_month_by_month(site: Site) -> None:
    clock = ManualClock(lisbon(2026, 10, 1, 8, 0, 1))
    scheduler, store = site.scheduler(clock, format="html", monthly={"enabled": False}, lang="en")
    try:
        (archived,) = await scheduler.tick()
    finally:
        store.close()
    assert (archived.kind, archived.period) == ("quarterly", "2026-Q3")
    page = Path(archived.path).read_text(encoding="utf-8")
    assert "Quarterly QUAR summary" in page and "version 1" in page
    for month in ("2026-07", "2026-08", "2026-09"):
        assert f'data-month="{month}"' in page
    assert 'data-indicator="ind3"' in page  # the monthly report's QUAR table


# ---- bad settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('monthly: {cron: "0 8 32 * *"}', "reports.monthly.cron"),
        ('quarterly: {cron: "every quarter"}', "is not a 5-field cron expression"),
        ("lang: fr", "reports.lang"),
        ("timezone: Europe/Lisboa", "'Europe/Lisboa' is not a known IANA timezone"),
        ("format: docx", "reports.format"),
        ("directory: ''", "directory is empty"),
        ("monthy: {cron: '0 8 1 * *'}", "reports.monthy"),
        ("email: {host: smtp.example, from: v@example.pt}", "reports.email.to"),
        ("email: {host: smtp.example, from: nobody, to: [a@b.pt]}", "'nobody' is not an e-mail"),
    ],
)
def test_bad_reports_settings_are_a_clear_error(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text(f"listen: 127.0.0.1:9330\nreports:\n  {section}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(str(path), environ={})
    text = str(caught.value)
    assert expected in text, text
    assert f"{path}:" in text  # the file and the line


def test_no_reports_section_means_no_scheduled_reports(tmp_path: Path) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text("reports: {}\n", encoding="utf-8")
    assert load_settings(str(path), environ={}).reports == ReportsConfig()
    path.write_text("listen: 127.0.0.1:9330\n", encoding="utf-8")
    assert load_settings(str(path), environ={}).reports is None
