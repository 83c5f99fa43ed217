"""agent.settings.load_settings: defaults, file, environment, flags, in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import DEFAULT_LISTEN, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./vigia.yaml around unless a test writes one."""
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "vigia.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


FILE = "listen: 0.0.0.0:9000\ndb: sqlite:///file.db\ncatalog: file.yaml\nmax_in_flight: 32\n"


def test_defaults_when_there_is_no_file() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.listen == DEFAULT_LISTEN and settings.catalog == "catalog/services.yaml"


def test_file_values_are_used(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, FILE), environ={})
    assert (settings.listen, settings.db, settings.catalog, settings.max_in_flight) == (
        "0.0.0.0:9000",
        "sqlite:///file.db",
        "file.yaml",
        32,
    )


def test_vigia_yaml_in_the_working_directory_is_read_by_default(tmp_path: Path) -> None:
    _write(tmp_path, FILE)
    assert load_settings(environ={}).catalog == "file.yaml"


def test_vigia_config_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("catalog: other-catalog.yaml\n", encoding="utf-8")
    assert load_settings(environ={"VIGIA_CONFIG": str(other)}).catalog == "other-catalog.yaml"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "VIGIA_DB": "sqlite:///env.db",
        "VIGIA_CATALOG": "env.yaml",
        "VIGIA_LISTEN": "[::1]:9100",
    }
    settings = load_settings(_write(tmp_path, FILE), environ=env)
    assert (settings.db, settings.catalog, settings.listen) == (
        "sqlite:///env.db",
        "env.yaml",
        "[::1]:9100",
    )
    assert settings.max_in_flight == 32  # not overridden: still the file's


def test_flags_override_the_environment(tmp_path: Path) -> None:
    env = {"VIGIA_DB": "sqlite:///env.db", "VIGIA_CATALOG": "env.yaml", "VIGIA_LISTEN": "h:1"}
    flags = {"db": "sqlite:///flag.db", "catalog": None, "listen": "127.0.0.1:9200"}
    settings = load_settings(_write(tmp_path, FILE), environ=env, flags=flags)
    assert (settings.db, settings.catalog, settings.listen) == (
        "sqlite:///flag.db",
        "env.yaml",  # a None flag was not given
        "127.0.0.1:9200",
    )


def test_bad_file_values_give_path_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "db: x\nmax_in_flight: 0\nlisten: nowhere\ntimezone: Mars/Olympus\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"max_in_flight: 0: input should be greater than or equal to 1 ({path}:2)",
        f"listen: 'nowhere' is not HOST:PORT ({path}:3)",
        f"timezone: 'Mars/Olympus' is not a time zone ({path}:4)",
    ]


def test_a_directory_as_timezone_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = _write(tmp_path, "timezone: Europe\n")
    with pytest.raises(SettingsError, match="'Europe' is not a time zone"):
        load_settings(path, environ={})


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "db: x\nlisten_on: 1.2.3.4:5\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"listen_on: unknown key 'listen_on' ({path}:2)"
    ]


def test_invalid_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "db: x\nlisten: [\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    (problem,) = caught.value.problems
    assert problem.file == path and problem.line == 3 and "invalid YAML" in problem.message


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(missing, environ={})
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(environ={"VIGIA_CONFIG": missing})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"VIGIA_MAX_IN_FLIGHT": "many"})
    (problem,) = caught.value.problems
    assert problem.path == "max_in_flight"
    assert str(problem).endswith("(environment VIGIA_MAX_IN_FLIGHT)")


def test_bad_flag_value_names_the_command_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, flags={"listen": "nowhere"})
    assert [str(p) for p in caught.value.problems] == [
        "listen: 'nowhere' is not HOST:PORT (command line)"
    ]


def test_secrets_in_the_settings_file_come_from_the_given_environ(tmp_path: Path) -> None:
    path = _write(tmp_path, 'db: "postgresql://vigia:${DB_PASSWORD}@db/vigia"\n')
    settings = load_settings(path, environ={"DB_PASSWORD": "pw"})
    assert settings.db == "postgresql://vigia:pw@db/vigia"


def test_retention_reads_durations_and_refuses_a_raw_ok_shorter_than_an_hour(
    tmp_path: Path,
) -> None:
    text = "raw_retention_days: 90\nretention: {raw_ok: 36h, batch: 2000, pause: 20ms}\n"
    settings = load_settings(_write(tmp_path, text), environ={})
    assert settings.raw_retention_days == 90
    assert (settings.retention.raw_ok, settings.retention.batch) == (36 * 3600, 2000)
    assert settings.retention.pause == 0.02 and Settings().retention.raw_ok == 2 * 86400
    with pytest.raises(SettingsError, match=r"retention.*raw_ok.*at least 1h"):
        load_settings(_write(tmp_path, "retention: {raw_ok: 30m}\n"), environ={})
