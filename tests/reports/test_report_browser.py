"""The monthly report opened in headless Chromium: no console errors, and screenshots.

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`) and the playwright Python
package, which drives that browser (no browser download). The screenshots of the first page
and of the QUAR table are written to docs/screenshots/ (the README shows one).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.reports.monthly import build_monthly, write_monthly
from agent.store.sql import SqlStore
from tests.reports import simulation as sim

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
A4_AT_96_DPI = {"width": 794, "height": 1123}

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e .[test])"
)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    store = SqlStore.open(f"sqlite:///{folder / 'vigia.db'}")
    try:
        cat = sim.simulate(store)
        calendar = MaintenanceCalendar(cat, tuple(store.windows()))
        report = build_monthly(
            store, cat, calendar, DEFAULT_QUAR, sim.MONTH, sim.REPORT_AT, "Europe/Lisbon"
        )
    finally:
        store.close()
    return write_monthly(report, folder, ["html"], "pt")[0]


@pytest.fixture(scope="module")
def page(report_file: Path) -> Iterator[tuple[Any, list[str]]]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        tab = browser.new_page(viewport=A4_AT_96_DPI)
        problems: list[str] = []
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        tab.goto(report_file.as_uri(), wait_until="load")
        yield tab, problems
        browser.close()


def test_report_renders_without_console_errors(page: tuple[Any, list[str]]) -> None:
    tab, problems = page
    assert problems == []
    assert tab.locator("h1").inner_text() == "Relatório mensal de disponibilidade (SLA)"
    assert tab.locator("#quar tr[data-indicator]").count() == 4  # ind3, ind4, coverage, OP3
    assert tab.locator("figure svg").count() == 3


def test_first_page_screenshot_is_produced(page: tuple[Any, list[str]]) -> None:
    tab, _ = page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / "monthly-report-first-page.png"
    tab.screenshot(path=str(target), full_page=False)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size < 400_000


def test_quar_table_screenshot_is_produced(page: tuple[Any, list[str]]) -> None:
    tab, _ = page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / "monthly-report-quar-table.png"
    tab.locator("#quar").screenshot(path=str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size < 200_000
