"""CLI instants and periods outside the allowed range exit 2 with a message naming it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.catalog.loader import load
from agent.cli import main
from agent.maintenance import MaintenanceCalendar
from agent.records import MaintenanceWindow

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog" / "services.yaml"
RANGE = "1970-01-01T00:00:00Z .. 2100-01-01T00:00:00Z"


def vigia(tmp_path: Path, *args: str) -> int:
    return main(["--catalog", str(CATALOG), "--db", str(tmp_path / "v.db"), *args])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+23:59", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"),
        ("0001-01-01", "2026-01-01"),
    ],
)
def test_maintenance_add_outside_the_range_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, end: str
) -> None:
    args = ["maintenance", "add", "--service", "ssd", "--start", start, "--end", end]
    assert vigia(tmp_path, *args, "--reason", "x") == 2
    assert RANGE in capsys.readouterr().err


@pytest.mark.parametrize("month", ["0001-01", "9999-12"])
def test_report_monthly_outside_the_range_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], month: str
) -> None:
    out = tmp_path / "out"
    assert vigia(tmp_path, "report", "monthly", "--month", month, "--out", str(out)) == 2
    assert "allowed range 1970-01-01T00:00:00Z" in capsys.readouterr().err


@pytest.mark.parametrize("period", ["0001-01", "9999"])
def test_indicators_period_outside_the_range_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], period: str
) -> None:
    assert vigia(tmp_path, "indicators", "--period", period) == 2
    assert "allowed range 1970-01-01T00:00:00Z" in capsys.readouterr().err


def test_calendar_skips_a_window_with_an_extreme_date_and_keeps_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime(2026, 10, 1, tzinfo=UTC)
    extreme = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
    bad = MaintenanceWindow(1, "ssd", extreme, now + timedelta(hours=1), "old", now)
    good = MaintenanceWindow(2, "ssd", now, now + timedelta(hours=1), "ok", now - timedelta(1))
    calendar = MaintenanceCalendar(load(CATALOG), (bad, good))
    with caplog.at_level(logging.WARNING):
        assert calendar.in_planned("ssd", now + timedelta(minutes=5))
        assert calendar.overlap("ssd", now - timedelta(hours=1), now) == 0
    assert calendar.skipped == {1}
    assert caplog.text.count("maintenance window 1 skipped") == 1


def test_month_report_still_runs_with_a_stored_extreme_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.store.sql import SqlStore

    store = SqlStore.open(f"sqlite:///{tmp_path / 'v.db'}")
    extreme = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
    now = datetime(2026, 10, 1, tzinfo=UTC)
    store.add_window("ssd", extreme, now, "old row", "hand", now)
    store.close()
    out = tmp_path / "out"
    args = ["report", "monthly", "--month", "2026-10", "--out", str(out), "--format", "csv"]
    assert vigia(tmp_path, *args) == 0
