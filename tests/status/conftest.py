"""A real agent whose catalogue is full of internal names, reasons, hosts and URLs, with the
status page on; the secrets listed in INTERNAL must never reach the public page or feed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Running, anonymous_board, reports, running  # noqa: F401 (fixtures)

CATALOG = """\
version: 1
defaults: {interval: 1h, timeout: 5s, confirm_down: 2, confirm_up: 1}
services:
  - id: portal-xpto-interno
    name: Portal da Segurança Social
    public: true
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    owner: equipa-sigilosa-alfa
    labels: {host: db-prod-17.interno.example, runbook: 'https://wiki.interno.example/rb/42'}
    maintenance: [{cron: '0 3 1 1 *', duration: 1h, reason: rotina-manutencao-secreta}]
    checks: [{name: verificacao-secreta, heartbeat: {max_silence: 1h, token: token-ultra-secreto}}]
  - id: autenticacao-cluster-b
    name: autenticacao-cluster-b-nome-interno
    public: true
    public_name: Autenticação
    macro_service: comunicacoes
    tier: ouro
    owner: equipa-beta-oculta
    checks: [{name: sonda-escondida, heartbeat: {max_silence: 1h}}]
  - id: pagamentos-sip42
    name: Sistema interno de pagamentos SIP-42
    macro_service: gestao-informacao
    tier: bronze
    checks: [{name: batch-noturno, heartbeat: {max_silence: 1h}}]
"""

PORTAL = "portal-xpto-interno/verificacao-secreta"
HIDDEN = "pagamentos-sip42/batch-noturno"
CAUSE = "HTTP 503 from https://db-prod-17.interno.example:8443/health (pool exhausted)"

# Everything above (and written by the tests) that the public must never read.
INTERNAL = (
    "portal-xpto-interno", "verificacao-secreta", "equipa-sigilosa-alfa", "db-prod-17",
    "interno.example", "wiki", "rotina-manutencao-secreta", "token-ultra-secreto",
    "autenticacao-cluster-b", "sonda-escondida", "equipa-beta-oculta", "pagamentos",
    "SIP-42", "batch-noturno", "platina", "ouro", "bronze", "pool exhausted",
    "desenvolvimento-aplicacoes", "comunicacoes", "gestao-informacao",
    "janela-secreta-de-upgrade", "nota-interna-do-cco", "operator-token", "heartbeat",
)  # fmt: skip


@pytest.fixture
def catalog_text() -> str:
    return CATALOG


@pytest.fixture
def more_settings() -> dict[str, Any]:
    return {"status_page": {"enabled": True, "refresh": "15s", "title": "Estado — Exemplo"}}


async def audit_entries(agent: Running) -> list[dict[str, Any]]:
    """The audit trail, newest first, as an admin reads it."""
    response = await agent.client.get("/api/v1/audit", headers=agent.auth("admin"))
    items: list[dict[str, Any]] = response.json()["items"]
    return items
