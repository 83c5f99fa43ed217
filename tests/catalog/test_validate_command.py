"""`vigia catalog validate [PATH]`: exit 0 and a summary line, or exit 2 and every error."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agent.commands.catalog import EXIT_INVALID, run_validate
from agent.settings import Settings
from tests.catalog.example import EXAMPLE, edit_second, edited

SHIPPED = Path(__file__).resolve().parents[2] / "catalog" / "services.yaml"


def _run(path: str | None, catalog: str = "unused.yaml") -> int:
    return run_validate(argparse.Namespace(path=path, settings=Settings(catalog=catalog)))


def test_valid_catalogue_exits_0_with_one_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert _run(str(path)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        f"{path}: valid, 2 services (platina 2); macro services: desenvolvimento-aplicacoes 2; "
        "3 checks; 2 monitored, coverage 100.0 %\n"
    )


def test_summary_names_every_tier_and_macro_service_of_the_shipped_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(None, catalog=str(SHIPPED)) == 0  # path from the settings
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"{SHIPPED}: valid, ")
    for name in (
        "platina",
        "ouro",
        "prata",
        "bronze",
        "suporte-tecnico",
        "comunicacoes",
        "infraestrutura-postos-trabalho",
        "desenvolvimento-aplicacoes",
        "formacao",
        "gestao-informacao",
        "coverage",
    ):
        assert name in out


def test_invalid_catalogue_exits_2_listing_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edited("url: https://app.seg-social.pt/", "url: htp://x")
    text = edit_second("tier: platina", "tier: diamante", text)
    path = tmp_path / "services.yaml"
    path.write_text(text, encoding="utf-8")
    assert _run(str(path)) == EXIT_INVALID == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: 2 errors",
        f"  services[0].checks[0].http.url: 'htp://x' is not an http(s) URL ({path}:17)",
        f"  services[1].tier: 'diamante' is not a tier (known: bronze, ouro, platina, prata) "
        f"({path}:25)",
    ]


def test_missing_catalogue_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(str(tmp_path / "absent.yaml")) == 2
    err = capsys.readouterr().err
    assert "1 error\n" in err and "cannot read the catalogue" in err
