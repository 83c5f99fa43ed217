"""`vigia check` and `vigia catalog validate` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import main
from tests.e2e.estate import ScriptedEstate


@pytest.fixture
def estate() -> Iterator[ScriptedEstate]:
    scripted = ScriptedEstate(refusing=[])
    yield scripted
    scripted.close()


def _catalog(tmp_path: Path, estate: ScriptedEstate) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(
        "version: 1\ndefaults: {timeout: 2s}\nservices:\n"
        + "".join(
            f"  - {{id: {sid}, name: {sid}, macro_service: formacao, tier: bronze, checks: "
            f"[{{http: {{url: '{estate.url(sid)}', body_contains: Seguranca}}}}]}}\n"
            for sid in ("good", "bad")
        )
    )
    return path


def test_check_exits_0_when_everything_is_ok(
    estate: ScriptedEstate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, estate)
    assert main(["--catalog", str(catalog), "check", "good"]) == 0
    out = capsys.readouterr().out
    assert "good/http" in out and " ok " in out and "bad/http" not in out


def test_check_exits_1_and_gives_the_reason_in_json_when_a_probe_fails(
    estate: ScriptedEstate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    estate.set("bad", "503")
    catalog = _catalog(tmp_path, estate)
    assert main(["--catalog", str(catalog), "check", "--json"]) == 1
    results = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    assert results["good/http"]["outcome"] == "ok"
    assert results["bad/http"]["outcome"] == "fail"
    assert "503" in results["bad/http"]["reason"]
    assert results["bad/http"]["measurements"]["status_code"] == 503


def test_check_of_an_unknown_service_is_a_usage_error(
    estate: ScriptedEstate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--catalog", str(_catalog(tmp_path, estate)), "check", "nope"]) == 2
    assert "not in the catalogue: nope" in capsys.readouterr().err


def test_catalog_validate_as_a_command(tmp_path: Path) -> None:
    bad = tmp_path / "services.yaml"
    bad.write_text("version: 1\nservices:\n  - {id: X!, name: x}\n")
    run = subprocess.run(
        [sys.executable, "-m", "agent.cli", "catalog", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "services[0].id" in run.stderr and "services.yaml:3" in run.stderr
    good = subprocess.run(
        [sys.executable, "-m", "agent.cli", "catalog", "validate", "catalog/services.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert good.returncode == 0 and "valid, 26 services" in good.stdout
