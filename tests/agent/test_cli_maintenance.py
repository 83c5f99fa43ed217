"""`vigia maintenance add|list|cancel`: planned vs retroactive windows, through the real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.cli import main

ROOT = Path(__file__).resolve().parents[2]


def vigia(tmp_path: Path, *args: str) -> int:
    catalog = ROOT / "catalog" / "services.yaml"
    return main(["--catalog", str(catalog), "--db", str(tmp_path / "v.db"), *args])


def test_a_future_window_is_planned_a_past_one_retroactive_and_cancel_keeps_it_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(hours=3)
    assert (
        vigia(
            tmp_path,
            "maintenance",
            "add",
            "--service",
            "ssd",
            "--start",
            soon.isoformat(),
            "--end",
            (soon + timedelta(hours=2)).isoformat(),
            "--reason",
            "upgrade",
        )
        == 0
    )
    assert "planned" in capsys.readouterr().out
    assert (
        vigia(
            tmp_path,
            "maintenance",
            "add",
            "--service",
            "portal",
            "--start",
            past.isoformat(),
            "--end",
            (past + timedelta(hours=1)).isoformat(),
            "--reason",
            "late",
        )
        == 0
    )
    assert "RETROACTIVE" in capsys.readouterr().out

    assert vigia(tmp_path, "maintenance", "list", "--json") == 0
    windows = {w["service"]: w for w in json.loads(capsys.readouterr().out)}
    assert (windows["ssd"]["retroactive"], windows["portal"]["retroactive"]) == (False, True)

    assert vigia(tmp_path, "maintenance", "cancel", str(windows["ssd"]["id"])) == 0
    capsys.readouterr()
    assert vigia(tmp_path, "maintenance", "list", "--json") == 0
    assert {w["service"] for w in json.loads(capsys.readouterr().out)} == {"portal"}
    assert vigia(tmp_path, "maintenance", "list", "--all", "--json") == 0
    cancelled = [w for w in json.loads(capsys.readouterr().out) if w["service"] == "ssd"]
    assert cancelled[0]["cancelled_at"] is not None


def test_bad_windows_are_refused_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        vigia(
            tmp_path,
            "maintenance",
            "add",
            "--service",
            "nope",
            "--start",
            "2026-12-01T02:00",
            "--end",
            "2026-12-01T03:00",
            "--reason",
            "x",
        )
        == 2
    )
    assert "'nope' is not in the catalogue" in capsys.readouterr().err
    assert (
        vigia(
            tmp_path,
            "maintenance",
            "add",
            "--service",
            "ssd",
            "--start",
            "2026-12-01T03:00",
            "--end",
            "2026-12-01T02:00",
            "--reason",
            "x",
        )
        == 2
    )
    assert "is not after" in capsys.readouterr().err
    assert vigia(tmp_path, "maintenance", "cancel", "999") == 2
    assert "no maintenance window 999" in capsys.readouterr().err


def test_indicators_budget_gives_each_tier_its_downtime_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    assert vigia(tmp_path, "indicators", "--period", month, "--budget", "--json") == 0
    figures = json.loads(capsys.readouterr().out)
    budget = {t["tier"]: t for t in figures["budget"]}
    assert set(budget) == {"platina", "ouro", "prata", "bronze"}
    assert budget["platina"]["services"] == 11 and budget["platina"]["down_seconds"] == 0
    assert figures["ind3"]["value"] is None  # an empty store: N/A, never 100 %
