"""`public` and `public_name` in the catalogue, `status_page` in the settings: values, and
errors with their path, value, file and line like every other key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.loader import load_text
from agent.settings import SettingsError, load_settings
from tests.catalog.example import EXAMPLE, edit_second, edited, errors_of

OWNER = "    owner: DAD\n    depends_on"


def test_services_are_not_public_unless_marked() -> None:
    catalog = load_text(edit_second("    owner: DAD\n", "    public: true\n"), environ={})
    assert [s.id for s in catalog.services if s.public] == ["autenticacao"]
    assert catalog.by_id["autenticacao"].shown_name == "Autenticação Central"
    assert load_text(EXAMPLE, environ={}).by_id["ssd"].public is False


def test_a_public_name_is_what_the_page_shows() -> None:
    text = edited(
        OWNER, "    owner: DAD\n    public: true\n    public_name: Portal\n    depends_on"
    )
    assert load_text(text, environ={}).by_id["ssd"].shown_name == "Portal"


@pytest.mark.parametrize(
    ("added", "problem"),
    [
        ("    public: talvez\n", "services[0].public: 'talvez'"),
        ("    public_name: ''\n    public: true\n", "services[0].public_name: ''"),
        ("    public_name: Portal\n", "public_name is set but the service is not public"),
    ],
)
def test_bad_public_fields_name_path_value_and_line(added: str, problem: str) -> None:
    text = edited(OWNER, "    owner: DAD\n" + added + "    depends_on")
    [error] = errors_of(text)
    assert problem in error and "(services.yaml:1" in error, error


def test_the_public_value_error_gives_its_line() -> None:
    text = edited(OWNER, "    owner: DAD\n    public: talvez\n    depends_on")
    [error] = errors_of(text)
    assert error.endswith("(services.yaml:12)"), error


def test_status_page_settings(tmp_path: Path) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text("status_page:\n  enabled: true\n  refresh: 30s\n  title: CCO\n")
    config = load_settings(str(path), environ={}).status_page
    assert (config.enabled, config.refresh, config.title) == (True, 30.0, "CCO")
    assert load_settings(environ={}).status_page.enabled is False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("status_page:\n  refresh: 0s\n", "status_page.refresh"),
        ("status_page:\n  refresh: 2h\n", "1s to 1h"),
        ("status_page:\n  enabled: true\n  colour: red\n", "status_page.colour"),
    ],
)
def test_bad_status_page_settings_name_path_and_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(str(path), environ={})
    [error] = [str(p) for p in caught.value.problems]
    assert problem in error and f"{path}:" in error, error
