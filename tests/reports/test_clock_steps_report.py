"""The monthly report names the wall-clock steps of its period and the interval whose stamps
they make suspect (semantics.md §10), in JSON and on the page, in pt-PT and English."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from agent.cli import main
from agent.store.sql import SqlStore
from tests.reports.test_csv_formulas import CATALOG


def _report(tmp_path: Path, lang: str) -> tuple[dict[str, object], str]:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    db = tmp_path / "v.db"
    store = SqlStore.open(f"sqlite:///{db}")
    store.record_clock_step(datetime(2026, 10, 12, 3, 0, tzinfo=UTC), -600.0)
    store.record_clock_step(datetime(2026, 10, 20, 4, 0, tzinfo=UTC), 30.0)
    store.record_clock_step(datetime(2026, 11, 2, 4, 0, tzinfo=UTC), 600.0)  # not October
    store.close()
    out = tmp_path / "out"
    args = ["--catalog", str(catalog), "--db", str(db), "report", "monthly", "--month", "2026-10"]
    assert main([*args, "--out", str(out), "--format", "json,html", "--lang", lang]) == 0
    doc = json.loads((out / "vigia-2026-10.json").read_text(encoding="utf-8"))
    return doc, (out / "vigia-2026-10.html").read_text(encoding="utf-8")


def test_the_report_lists_the_period_s_clock_steps_with_their_suspect_interval(
    tmp_path: Path,
) -> None:
    doc, page = _report(tmp_path, "pt")
    steps = doc["clock_steps"]
    assert steps == [
        {
            "at": "2026-10-12T03:00:00+00:00",
            "seconds": -600.0,
            "suspect_from": "2026-10-12T03:00:00+00:00",  # a backward step stamps what follows
            "suspect_to": "2026-10-12T03:10:00+00:00",  # twice, for the size of the step
        },
        {
            "at": "2026-10-20T04:00:00+00:00",
            "seconds": 30.0,
            "suspect_from": "2026-10-20T03:59:30+00:00",  # a forward step skipped what precedes
            "suspect_to": "2026-10-20T04:00:00+00:00",
        },
    ]
    assert "Saltos do relógio" in page and "-600 s" in page and "+30 s" in page


def test_the_clock_step_section_speaks_english_when_asked(tmp_path: Path) -> None:
    _, page = _report(tmp_path, "en")
    assert "Clock steps" in page and "Suspect interval" in page
