"""A location's assignment: its checks only, as written, placeholders unresolved."""

from __future__ import annotations

import yaml

from agent.catalog.loader import load_text
from agent.locations.assignment import assignment

TEXT = """\
version: 1
defaults: {interval: 30s, locations: [porto, lisboa, local]}
tiers:
  platina: {quorum: 2, interval: 20s}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    checks:
      - {http: {url: "https://portal.example/", headers: {Authorization: "${PORTAL_AUTH}"}}}
      - {locations: [lisboa, local], quorum: 1, http: {url: "https://portal.example/x"}}
      - {name: tcp, tcp: {host: portal.example, port: 443}}
  - id: arquivo
    name: Arquivo
    macro_service: comunicacoes
    tier: bronze
    monitored: false
"""
ENV = {"PORTAL_AUTH": "Bearer s3cret"}


def test_only_the_locations_checks_travel_with_their_placeholders() -> None:
    catalog = load_text(TEXT, environ=ENV, locations=("porto", "lisboa"))
    porto = assignment(catalog, TEXT, "porto")
    data = yaml.safe_load(porto.catalog)
    [portal] = data["services"]
    # the unnamed checks are http and http-2; http-2 runs from lisboa and local only
    assert [c.get("name") or next(iter(c)) for c in portal["checks"]] == ["http", "tcp"]
    assert portal["checks"][0]["http"]["headers"]["Authorization"] == "${PORTAL_AUTH}"
    assert "s3cret" not in porto.catalog
    assert data["defaults"] == {"interval": "30s"} and data["tiers"]["platina"] == {
        "interval": "20s"
    }
    # the worker's own loader accepts it as it stands (no location names it does not know)
    worker = load_text(porto.catalog, environ=ENV)
    assert sorted(worker.checks) == ["portal/http", "portal/tcp"]
    assert worker.checks["portal/http"].interval == 20


def test_the_version_follows_the_assigned_text() -> None:
    catalog = load_text(TEXT, environ=ENV, locations=("porto", "lisboa"))
    first = assignment(catalog, TEXT, "lisboa")
    assert assignment(catalog, TEXT, "lisboa").version == first.version
    assert assignment(catalog, TEXT, "porto").version != first.version
    assert len(yaml.safe_load(first.catalog)["services"][0]["checks"]) == 3
