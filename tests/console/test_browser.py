"""The console in headless Chromium against `vigia run` on loopback services (1 s probes).

Skipped, with the reason, when Playwright or the system Chromium is missing. Never downloads
a browser: Playwright drives the Debian `chromium` executable.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.api.auth import hash_token, new_token
from agent.store.sql import SqlStore
from tests.browser import ARGS, CHROMIUM, SCREENSHOTS, sync_api
from tests.e2e.estate import ScriptedEstate

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    estate: ScriptedEstate
    tokens: dict[str, str]
    db: Path
    archive: Path  # the scheduled reports' directory


def _catalog(estate: ScriptedEstate) -> str:
    defaults = "{interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 2}"
    lines = ["version: 1", f"defaults: {defaults}", "services:"]
    for sid, name, tier, pcn in (
        ("portal", "Portal da Segurança Social", "platina", "true"),
        ("autenticacao", "Autenticação Central", "platina", "true"),
        ("correio", "Correio eletrónico", "ouro", "false"),
        ("intranet", "Intranet", "bronze", "false"),
    ):
        lines += [
            f"  - id: {sid}", f"    name: {name}", "    macro_service: desenvolvimento-aplicacoes",
            f"    tier: {tier}", f"    pcn: {pcn}",
            f"    checks: [{{http: {{url: '{estate.url(sid)}', body_contains: 'Seguranca'}}}}]",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("console")
    estate = ScriptedEstate(refusing=[])
    tokens = {role: new_token() for role in ("viewer", "operator")}
    (tmp / "services.yaml").write_text(_catalog(estate), encoding="utf-8")
    entries = "".join(
        f"  - {{name: {role}-cco, role: {role}, hash: '{hash_token(token)}'}}\n"
        for role, token in tokens.items()
    )
    # scheduled reports on: `vigia run` makes the due month and quarter at start (HTML: fast)
    reports = f"reports: {{directory: '{tmp / 'archive'}', format: html}}\n"
    (tmp / "vigia.yaml").write_text(f"tokens:\n{entries}{reports}", encoding="utf-8")
    proc, url = start_agent(tmp)
    yield Stack(url, estate, tokens, tmp / "vigia.db", tmp / "archive")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    estate.close()


def start_agent(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`vigia run` on tmp's vigia.yaml, services.yaml and vigia.db, once it answers /healthz."""
    port = _free_port()
    command = [
        sys.executable, "-m", "agent.cli", "--config", str(tmp / "vigia.yaml"),
        "--catalog", str(tmp / "services.yaml"), "--db", str(tmp / "vigia.db"),
        "run", "--listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    with open(tmp / "agent.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, 30, tmp / "agent.log")
    return proc, url


def _wait(condition: Any, seconds: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out; agent log:\n{log.read_text() if log else ''}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _signed_in(browser: Any, stack: Stack, role: str, width: int = 1366, height: int = 768) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="pt-PT")
    page = context.new_page()
    page.goto(stack.url + "/")
    assert page.url.startswith(stack.url + "/login")
    page.fill("#token", stack.tokens[role])
    page.press("#token", "Enter")
    page.wait_for_url(stack.url + "/")
    return page


def _tile_state(page: Any, sid: str, state: str, seconds: float = 20) -> None:
    page.wait_for_selector(f'#tile-{sid}[data-state="{state}"]', timeout=seconds * 1000)


def _open_incident(stack: Stack, sid: str) -> dict[str, Any]:
    store = SqlStore(f"sqlite:///{stack.db}")
    try:
        [incident] = store.incidents(service=sid, open_only=True)
    finally:
        store.close()
    return {"id": incident.id, "confirmed_at": incident.confirmed_at}


def test_the_board_shows_a_service_going_down_and_recovering_without_a_reload(
    browser: Any, stack: Stack
) -> None:
    page = _signed_in(browser, stack, "viewer")
    _tile_state(page, "portal", "up")
    page.evaluate("window.__sameDocument = true")
    stack.estate.set("portal", "503")
    _tile_state(page, "portal", "down")
    assert "Em baixo" in page.inner_text("#tile-portal")
    page.wait_for_selector("#incidents .badge[data-start]")
    assert "Portal da Segurança Social" in page.inner_text("#incidents")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "board.png"))
    stack.estate.set("portal", "ok")
    _tile_state(page, "portal", "up")
    page.wait_for_function("!document.querySelector('#incidents .badge')")
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
    page.context.close()


def test_live_updates_swap_only_the_changed_tile_and_incident_row(
    browser: Any, stack: Stack
) -> None:
    page = _signed_in(browser, stack, "viewer")
    _tile_state(page, "portal", "up")
    page.wait_for_selector("#incidents [data-empty]:not([hidden])", timeout=20000)
    page.evaluate("window.__tile = document.getElementById('tile-autenticacao')")
    stack.estate.set("portal", "503")
    _tile_state(page, "portal", "down")
    page.wait_for_selector("#incidents tr[data-row] .badge[data-start]")
    assert page.inner_text("#incidents [data-total]") == "1"
    assert page.is_hidden("#incidents [data-empty]")
    stack.estate.set("portal", "ok")
    _tile_state(page, "portal", "up")
    page.wait_for_selector("#incidents [data-empty]:not([hidden])")
    assert page.inner_text("#incidents [data-total]") == "0"
    assert page.is_hidden("#incidents table")
    # the other tiles are the very same elements: the grid was never rendered again
    assert page.evaluate("document.getElementById('tile-autenticacao') === window.__tile")
    page.context.close()


def test_an_operator_acknowledges_an_alert_and_annotates_an_incident(
    browser: Any, stack: Stack
) -> None:
    stack.estate.set("correio", "503")
    page = _signed_in(browser, stack, "operator", 1920, 1080)
    _tile_state(page, "correio", "down")
    incident = _open_incident(stack, "correio")
    alert = _alert_on_board(page, "correio")
    page.fill(f'{alert} input[name="comment"]', "equipa de sistemas chamada")
    page.click(f"{alert} button")
    page.wait_for_selector(f"{alert} .acked")
    assert "operator-cco" in page.inner_text(f"{alert} .acked")
    page.goto(f"{stack.url}/incidents/{incident['id']}")
    page.select_option("#field", "cause")
    page.fill("#text", "disco do servidor de correio cheio")
    page.click(".annotate button")
    page.wait_for_selector("text=cause: disco do servidor de correio cheio")
    page.screenshot(path=str(SCREENSHOTS / "incident.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    stack.estate.set("correio", "ok")
    page.context.close()


def _alert_on_board(page: Any, sid: str) -> str:
    """The board's entry of the service's outage alert, raised by the agent's own rules
    (its alerting tick runs every 5 s)."""
    selector = f'[data-alert="ServiceDown/{sid}"]'
    page.wait_for_selector(selector, timeout=20000)
    return selector


def test_a_viewer_can_neither_acknowledge_nor_annotate(browser: Any, stack: Stack) -> None:
    stack.estate.set("intranet", "503")
    page = _signed_in(browser, stack, "viewer")
    _tile_state(page, "intranet", "down")
    incident = _open_incident(stack, "intranet")
    alert = _alert_on_board(page, "intranet")
    assert page.query_selector(f"{alert} button") is None
    assert "exige um token de operador" in page.inner_text(alert)
    page.goto(f"{stack.url}/incidents/{incident['id']}")
    assert page.query_selector("textarea") is None
    csrf = page.get_attribute('input[name="csrf"]', "value")
    forged = page.request.post(
        f"{stack.url}/incidents/{incident['id']}/annotate",
        form={"csrf": csrf, "field": "note", "text": "viewer note"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "viewer note" not in page.content()
    stack.estate.set("intranet", "ok")
    page.context.close()


def test_the_board_is_keyboard_navigable_and_fits_a_laptop_and_a_wall_screen(
    browser: Any, stack: Stack
) -> None:
    for width, height in ((1366, 768), (1920, 1080)):
        page = _signed_in(browser, stack, "viewer", width, height)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        page.focus("#tile-portal")
        page.keyboard.press("Enter")
        page.wait_for_url(stack.url + "/services/portal")
        assert "Portal da Segurança Social" in page.inner_text("h1")
        page.context.close()


def test_the_reports_page_lists_the_archive_and_downloads_a_report(
    browser: Any, stack: Stack
) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens['viewer']}"}

    def archived() -> list[dict[str, Any]]:
        answer = httpx.get(f"{stack.url}/api/v1/reports/archive", headers=headers, timeout=5)
        return list(answer.json()["items"])

    _wait(lambda: len(archived()) == 2, 30)
    page = _signed_in(browser, stack, "viewer")
    page.goto(stack.url + "/reports")
    rows = page.locator("#archived tbody tr")
    assert rows.count() == 2
    texts = " ".join(rows.all_inner_texts())
    assert "Mensal (SLA)" in texts and "Trimestral (QUAR)" in texts
    by_id = {item["id"]: item for item in archived()}
    link = page.locator("#archived a").first
    with page.expect_download() as info:
        link.click()
    download = info.value
    archive_id = int(str(link.get_attribute("href")).rsplit("/", 1)[1])
    assert download.suggested_filename == by_id[archive_id]["filename"]
    content = Path(download.path()).read_bytes()
    assert hashlib.sha256(content).hexdigest() == by_id[archive_id]["sha256"]
    page.screenshot(path=str(SCREENSHOTS / "reports-archive.png"), full_page=True)
    page.context.close()
