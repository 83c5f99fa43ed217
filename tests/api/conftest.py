"""A real agent (scheduler, engine, SQLite store, writer) behind the real ASGI app.

The catalogue uses heartbeat checks only, so nothing is probed over the network; outages
are made by feeding the engine probe results through `Agent.observe`, the path real probes
take.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.api.auth import hash_token, new_token
from agent.catalog.loader import load
from agent.records import Incident
from agent.runtime import Agent
from agent.scheduled_reports.config import ReportsConfig
from agent.server import create_app
from agent.settings import Settings, TokenEntry
from agent.store.sql import SqlStore
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult

CATALOG = """\
version: 1
defaults: {interval: 1h, timeout: 5s, confirm_down: 2, confirm_up: 1}
services:
  - id: portal
    name: Portal da Segurança Social
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    checks: [{heartbeat: {max_silence: 1h}}]
  - id: batch
    name: Processamento noturno
    macro_service: infraestrutura-postos-trabalho
    tier: ouro
    checks: [{name: nightly, heartbeat: {max_silence: 1h, token: s3cret-beat}}]
  - id: mail
    name: Correio
    macro_service: comunicacoes
    tier: bronze
    checks: [{heartbeat: {max_silence: 1h}}]
"""

ROLES = ("viewer", "operator", "admin")


@dataclass
class Running:
    agent: Agent
    client: httpx.AsyncClient
    tokens: dict[str, str]  # role -> token
    store: SqlStore
    catalog_path: Path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def outage(
        self, check: str, seconds_ago: float = 600, restored: bool = False
    ) -> Incident:
        """Two failures (confirm_down 2), then one ok if `restored`; returns the incident."""
        start = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        results = [
            ProbeResult(check, start, 0.1, Outcome.FAIL, "HTTP 503 from the portal"),
            ProbeResult(check, start + timedelta(seconds=30), 0.1, Outcome.FAIL, "HTTP 503"),
        ]
        if restored:
            results.append(ProbeResult(check, start + timedelta(seconds=90), 0.1, Outcome.OK))
        for result in results:
            self.agent.observe(result, "heartbeat")
        await self.agent.writer.drain()
        service = check.split("/")[0]
        return self.store.incidents(service=service)[-1]

    async def evaluate_alerts(self) -> None:
        """One alerting tick now (it runs every 5 s): rules evaluated, acks applied, saved."""
        await self.agent.alerting.tick()


def tokens_and_entries() -> tuple[dict[str, str], tuple[TokenEntry, ...]]:
    tokens = {role: new_token() for role in ROLES}
    entries = tuple(
        TokenEntry(name=f"{role}-token", role=role, hash=hash_token(token))  # type: ignore[arg-type]
        for role, token in tokens.items()
    )
    return tokens, entries


@pytest.fixture
def anonymous_board() -> bool:
    return False


def _reports(section: dict[str, object] | None) -> ReportsConfig | None:
    return None if section is None else ReportsConfig.model_validate(section)


@pytest.fixture
def reports() -> dict[str, object] | None:
    """The `reports:` settings (scheduled reports); a test module overrides it."""
    return None


@pytest.fixture
def catalog_text() -> str:
    """The catalogue the agent runs; a test module may override this fixture."""
    return CATALOG


@pytest.fixture
def more_settings() -> dict[str, Any]:
    """Settings beyond the defaults; a test module may override this fixture."""
    return {}


@pytest.fixture
async def running(
    tmp_path: Path,
    anonymous_board: bool,
    reports: dict[str, object] | None,
    catalog_text: str,
    more_settings: dict[str, Any],
) -> AsyncIterator[Running]:
    catalog_path = tmp_path / "services.yaml"
    catalog_path.write_text(catalog_text, encoding="utf-8")
    tokens, entries = tokens_and_entries()
    settings = Settings(
        catalog=str(catalog_path), db=str(tmp_path / "vigia.db"), tokens=entries,
        anonymous_board=anonymous_board, reports=_reports(reports), **more_settings,
    )  # fmt: skip
    store = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    agent = Agent(settings, load(catalog_path), store, SystemClock(), serve_http=False)
    task = asyncio.create_task(agent.run())
    while not agent.started.is_set() and not task.done():
        await asyncio.sleep(0.01)
    app = create_app(agent.registry, agent.health, agent=agent)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield Running(agent, client, tokens, store, catalog_path)
    agent.stop.set()
    await task
    store.close()
