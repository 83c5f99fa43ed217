"""`locations:` and `quorum:` in the catalogue and `locations:` in vigia.yaml (semantics.md §8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.api.auth import hash_token
from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from agent.settings import SettingsError, load_settings

HASH = hash_token("vigia_porto")
LOCATIONS = ("lisboa", "porto", "viseu")

CATALOG = """\
version: 1
defaults: {interval: 30s, timeout: 5s}
tiers:
  platina: {quorum: 2}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    checks:
      - {name: web, http: {url: "https://portal.example/"}}
      - {name: tcp, locations: [lisboa, local], tcp: {host: portal.example, port: 443}}
  - id: mail
    name: Correio
    macro_service: comunicacoes
    tier: bronze
    locations: [porto, viseu, local]
    checks:
      - {name: smtp, quorum: 3, tcp: {host: mail.example, port: 25}}
"""


def problems(text: str, locations: tuple[str, ...] = LOCATIONS) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_text(text, "services.yaml", environ={}, locations=locations)
    return [str(p) for p in caught.value.problems]


def test_without_locations_every_check_runs_locally_only() -> None:
    plain = CATALOG.split("  - id: mail")[0].replace("locations: [lisboa, local], ", "")
    catalog = load_text(plain.replace("{quorum: 2}", "{}"), environ={})
    web = catalog.checks["portal/web"]
    assert web.locations == ("local",) and web.quorum == 1 and not web.multi_location
    # a quorum the lone location cannot meet is an error, not silently lowered
    assert problems(plain, locations=()) == [
        "services[0].checks[0]: quorum 2 is more than its 1 locations (local) (services.yaml:11)",
        "services[0].checks[1]: quorum 2 is more than its 1 locations (local) (services.yaml:12)",
    ]


def test_by_default_a_check_runs_everywhere_with_a_majority() -> None:
    text = CATALOG.replace("  platina: {quorum: 2}\n", "  platina: {}\n")
    web = load_text(text, environ={}, locations=LOCATIONS).checks["portal/web"]
    assert web.locations == ("lisboa", "porto", "viseu", "local")
    assert web.quorum == 3 and web.multi_location  # majority of 4


def test_locations_and_quorum_inherit_tier_service_check() -> None:
    catalog = load_text(CATALOG, environ={}, locations=LOCATIONS)
    assert catalog.checks["portal/web"].quorum == 2  # the tier's
    assert catalog.checks["portal/tcp"].locations == ("lisboa", "local")
    assert catalog.checks["portal/tcp"].quorum == 2
    smtp = catalog.checks["mail/smtp"]
    assert smtp.locations == ("porto", "viseu", "local") and smtp.quorum == 3


def test_an_unknown_location_is_reported_with_path_and_line() -> None:
    text = CATALOG.replace("[lisboa, local]", "[lisboa, braga]")
    assert problems(text) == [
        "services[0].checks[1].locations[1]: 'braga' is not a configured location "
        "(known: lisboa, porto, viseu, local) (services.yaml:12)"
    ]


def test_a_quorum_above_the_locations_is_reported_where_it_applies() -> None:
    text = CATALOG.replace("{name: smtp, quorum: 3,", "{name: smtp, quorum: 4,")
    assert problems(text) == [
        "services[1].checks[0].quorum: quorum 4 is more than its 3 locations "
        "(porto, viseu, local) (services.yaml:19)"
    ]
    # inherited from the tier: reported on the check that cannot meet it
    text = CATALOG.replace(
        "{name: tcp, locations: [lisboa, local],", "{name: tcp, locations: [lisboa],"
    )
    assert problems(text) == [
        "services[0].checks[1]: quorum 2 is more than its 1 locations (lisboa) (services.yaml:12)"
    ]


def test_a_location_listed_twice_or_an_empty_list_is_refused() -> None:
    twice = problems(CATALOG.replace("[lisboa, local]", "[lisboa, lisboa]"))
    assert len(twice) == 1 and "'lisboa' is listed twice" in twice[0]
    empty = problems(CATALOG.replace("[porto, viseu, local]", "[]"))
    assert len(empty) == 1 and empty[0].startswith("services[1].locations")


def test_settings_name_the_locations_with_their_token_hash(tmp_path: Path) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text(
        f"locations:\n  - {{name: porto, hash: '{HASH}', connectivity_check: '10.0.0.1:53'}}\n"
        f"  - {{name: viseu, hash: '{hash_token('vigia_viseu')}'}}\n",
        encoding="utf-8",
    )
    settings = load_settings(str(path), environ={})
    assert settings.location_names == ("porto", "viseu", "local")
    assert settings.locations[0].connectivity_check == "10.0.0.1:53"
    assert settings.max_clock_offset == 5.0


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (f"  - {{name: local, hash: '{HASH}'}}\n", "'local' is the core's own location"),
        (f"  - {{name: porto, hash: '{HASH}'}}\n" * 2, "location 'porto' is configured twice"),
        ("  - {name: porto, hash: 'plain-token'}\n", "locations[0].hash"),
        (f"  - {{name: Porto!, hash: '{HASH}'}}\n", "locations[0].name"),
    ],
)
def test_bad_location_settings_are_clear_errors(tmp_path: Path, entries: str, message: str) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text("locations:\n" + entries, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(str(path), environ={})
    text = str(caught.value)
    assert message in text and "vigia.yaml:" in text


def test_a_probe_token_is_not_an_api_token(tmp_path: Path) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text(f"tokens:\n  - {{name: porto, role: probe, hash: '{HASH}'}}\n", "utf-8")
    with pytest.raises(SettingsError, match="belongs to its location"):
        load_settings(str(path), environ={})
