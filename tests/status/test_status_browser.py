"""The public status page in headless Chromium with JavaScript off, against `vigia run` on
loopback services: states by text, the public message, the keyboard path, a screenshot."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.api.auth import hash_token, new_token
from agent.records import State, TimelineRewritten, Transition
from agent.store.sql import SqlStore
from tests.browser import ARGS, CHROMIUM, SCREENSHOTS, sync_api
from tests.console.test_browser import _wait, start_agent
from tests.e2e.estate import ScriptedEstate

pytestmark = pytest.mark.slow

PUBLIC_TEXT = "O portal está indisponível. Estamos a repor o serviço; próxima atualização às 10h."


def _catalog(estate: ScriptedEstate) -> str:
    lines = [
        "version: 1", "defaults: {interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 2}",
        "services:",
    ]  # fmt: skip
    for sid, name, public in (
        ("portal", "Portal da Segurança Social", "true"),
        ("autenticacao", "Autenticação", "true"),
        ("correio", "Correio eletrónico", "true"),
        ("backoffice", "Backoffice interno", "false"),
    ):
        lines += [
            f"  - id: {sid}", f"    name: {name}", f"    public: {public}",
            "    macro_service: desenvolvimento-aplicacoes", "    tier: ouro",
            f"    checks: [{{http: {{url: '{estate.url(sid)}', body_contains: 'Seguranca'}}}}]",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _history(db: Path) -> None:
    """Ninety days of past states, so the bars show what a real page would."""
    now = datetime.now(UTC)
    steps = [Transition("portal", now - timedelta(days=89), State.UP)]
    for days_ago, hours in ((41, 3.0), (17, 0.4), (3, 0.05)):
        down = now - timedelta(days=days_ago)
        steps += [
            Transition("portal", down, State.DOWN),
            Transition("portal", down + timedelta(hours=hours), State.UP),
        ]
    store = SqlStore.open(f"sqlite:///{db}")
    try:
        effects = [TimelineRewritten("portal", steps[0].at, tuple(steps))]
        effects += [
            TimelineRewritten(sid, steps[0].at, (Transition(sid, steps[0].at, State.UP),))
            for sid in ("autenticacao", "correio")
        ]
        store.apply(effects)
    finally:
        store.close()


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("status")
    estate = ScriptedEstate(refusing=[])
    token = new_token()
    (tmp / "services.yaml").write_text(_catalog(estate), encoding="utf-8")
    (tmp / "vigia.yaml").write_text(
        f"tokens:\n  - {{name: operador-cco, role: operator, hash: '{hash_token(token)}'}}\n"
        "status_page: {enabled: true, refresh: 1s}\n",
        encoding="utf-8",
    )
    _history(tmp / "vigia.db")
    proc, url = start_agent(tmp)
    try:
        estate.set("portal", "503")
        yield url, token
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        estate.close()


def _open_incident(url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    found: list[int] = []

    def opened() -> bool:
        params = {"status": "open", "service": "portal"}
        items = httpx.get(f"{url}/api/v1/incidents", params=params, headers=headers).json()["items"]
        found.extend(i["id"] for i in items)
        return bool(found)

    _wait(opened, 30)
    return found[0]


def _states(page: Any) -> list[str]:
    return [page.inner_text(f"#service-{n} .state").strip() for n in (1, 2, 3)]


def test_the_status_page_in_chromium_without_javascript(agent_url: tuple[str, str]) -> None:
    url, token = agent_url
    incident = _open_incident(url, token)
    said = {"incident": incident, "text": PUBLIC_TEXT}
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{url}/api/v1/public-messages", json=said, headers=headers)
    assert response.status_code == 201
    start = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    window = {
        "service": "correio", "start": (start + timedelta(days=2)).isoformat(),
        "end": (start + timedelta(days=2, hours=2)).isoformat(),
        "reason": "troca do servidor (interno)",
    }  # fmt: skip
    response = httpx.post(f"{url}/api/v1/maintenance", json=window, headers=headers)
    assert response.status_code == 201
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, java_script_enabled=False
            )
            page = context.new_page()
            deadline = time.monotonic() + 30
            while True:  # the page is cached for 1 s and the probes confirm in about 2 s
                page.goto(f"{url}/status")
                states = _states(page)
                announced = "Correio eletrónico: De" in page.inner_text("body")
                expected = states == ["✖ Indisponível", "✔ Operacional", "✔ Operacional"]
                if (expected and announced) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert states == ["✖ Indisponível", "✔ Operacional", "✔ Operacional"]
            assert page.locator("script").count() == 0
            body = page.inner_text("body")
            assert "Há serviços indisponíveis." in body and PUBLIC_TEXT in body
            assert "Backoffice interno" not in body and "troca do servidor" not in body
            assert "Correio eletrónico: De" in body
            assert page.locator("#service-1 .bars li").count() == 90
            assert page.locator("#service-1 .bars li.l-major").count() >= 1
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Saltar para o conteúdo"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"
            page.keyboard.press("Tab")  # past the header: the first daily values
            assert page.evaluate("document.activeElement.textContent") == "Valores diários"
            page.keyboard.press("Enter")  # they open from the keyboard
            assert page.locator("#service-1 details table").is_visible()
            page.goto(f"{url}/status")
            for _ in range(2):  # the skip link, then the language
                page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "English"
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/status?lang=en")
            assert "✖ Unavailable" in page.inner_text("#service-1 .state")
            page.goto(f"{url}/status")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "status-page.png"), full_page=True)
            context.close()
        finally:
            browser.close()
