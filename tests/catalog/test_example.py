"""The issue's example catalogue loads as is; inheritance, check names and durations."""

from __future__ import annotations

import pytest

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from checks.durations import parse_duration
from checks.specs import HttpSpec, TcpSpec, TlsSpec
from tests.catalog.example import EXAMPLE, edit_second, edited, errors_of


def test_issue_example_loads_as_is() -> None:
    catalog = load_text(EXAMPLE, "services.yaml", environ={})
    ssd = catalog.by_id["ssd"]
    assert [s.id for s in catalog.services] == ["ssd", "autenticacao"]
    assert ssd.name == "Segurança Social Direta"
    assert ssd.macro_service == "desenvolvimento-aplicacoes"
    assert ssd.is_platinum_pcn and ssd.owner == "DAD" and ssd.monitored
    assert ssd.depends_on == ("autenticacao",)
    assert [(m.cron, m.duration, m.timezone) for m in ssd.maintenance] == [
        ("0 2 * * 0", 7200.0, "Europe/Lisbon")
    ]
    http, tls = (c.spec for c in ssd.checks)
    assert isinstance(http, HttpSpec) and isinstance(tls, TlsSpec)
    assert http.expect_status == [200] and http.max_latency == 2.0
    assert http.body_contains == "Segurança Social"
    assert (tls.host, tls.port, tls.min_days) == ("app.seg-social.pt", 443, 21)


def test_platina_interval_comes_from_its_tier_and_the_rest_from_defaults() -> None:
    catalog = load_text(EXAMPLE, environ={})
    for check in catalog.checks.values():
        assert (check.interval, check.timeout) == (30.0, 10.0)
        assert (check.timing.confirm_down, check.timing.confirm_up) == (3, 2)
    assert catalog.tiers["platina"].timing.interval == 30.0
    assert catalog.tiers["ouro"].timing.interval == 60.0  # built-in tier, catalogue defaults


def test_check_level_override_wins_over_service_tier_and_defaults() -> None:
    text = edited(
        "      - tls: {host", "      - interval: 5s\n        confirm_down: 7\n        tls: {host"
    )
    text = edited(
        "    owner: DAD\n    depends_on", "    owner: DAD\n    confirm_up: 4\n    depends_on", text
    )
    ssd = load_text(text, environ={}).by_id["ssd"]
    http, tls = ssd.checks
    assert (http.interval, http.timing.confirm_down, http.timing.confirm_up) == (30.0, 3, 4)
    assert (tls.interval, tls.timing.confirm_down, tls.timing.confirm_up) == (5.0, 7, 4)
    assert tls.timeout == 10.0


def test_service_level_interval_overrides_its_tier() -> None:
    text = edit_second("    owner: DAD\n", "    owner: DAD\n    interval: 2m\n")
    auth = load_text(text, environ={}).by_id["autenticacao"]
    assert auth.timing.interval == 120.0 and auth.checks[0].interval == 120.0


def test_defaults_apply_to_tiers_the_catalogue_does_not_configure() -> None:
    text = edit_second("tier: platina", "tier: bronze")
    text = edited("defaults: {interval: 60s,", "defaults: {interval: 45s,", text)
    auth = load_text(text, environ={}).by_id["autenticacao"]
    assert auth.tier == "bronze" and auth.checks[0].interval == 45.0


def test_unnamed_checks_are_named_after_their_kind_and_numbered() -> None:
    text = edit_second(
        "      - tcp: {host: 127.0.0.1, port: 8443}\n",
        "      - tcp: {host: 127.0.0.1, port: 8443}\n"
        "      - tcp: {host: 127.0.0.1, port: 8444}\n"
        "      - name: backend\n        tcp: {host: 127.0.0.1, port: 8445}\n"
        "      - tcp: {host: 127.0.0.1, port: 8446}\n",
    )
    checks = load_text(text, environ={}).by_id["autenticacao"].checks
    assert [c.id for c in checks] == [
        "autenticacao/tcp",
        "autenticacao/tcp-2",
        "autenticacao/backend",
        "autenticacao/tcp-3",
    ]
    assert [c.spec.port for c in checks if isinstance(c.spec, TcpSpec)] == [8443, 8444, 8445, 8446]


def test_explicit_name_equal_to_a_generated_one_is_kept_and_the_generated_moves_on() -> None:
    text = edit_second(
        "      - tcp: {host: 127.0.0.1, port: 8443}\n",
        "      - tcp: {host: 127.0.0.1, port: 8443}\n"
        "      - name: tcp\n        tcp: {host: 127.0.0.1, port: 8444}\n",
    )
    checks = load_text(text, environ={}).by_id["autenticacao"].checks
    assert [c.name for c in checks] == ["tcp-2", "tcp"]


def test_duplicate_explicit_check_names_are_an_error() -> None:
    text = edit_second(
        "      - tcp: {host: 127.0.0.1, port: 8443}\n",
        "      - name: a\n        tcp: {host: 127.0.0.1, port: 8443}\n"
        "      - name: a\n        tcp: {host: 127.0.0.1, port: 8444}\n",
    )
    assert any("duplicate check name 'a'" in e for e in errors_of(text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), (15, 15.0)],
)
def test_durations_are_read_in_their_unit(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "value", ["2 hours", "5x", "-1s", "", -3, True, float("nan"), float("inf")]
)
def test_non_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(value)


def test_non_finite_interval_is_an_error_not_a_crash() -> None:
    text = edited("platina: {interval: 30s}", "platina: {interval: .nan}")
    assert errors_of(text) == [
        "tiers.platina.interval: nan is not a finite duration (services.yaml:4)"
    ]


def test_interval_durations_are_parsed_in_the_catalogue() -> None:
    text = edited(
        "      - tls: {host", "      - interval: 1500ms\n        timeout: 500ms\n        tls: {host"
    )
    tls = load_text(text, environ={}).by_id["ssd"].checks[1]
    assert (tls.interval, tls.timeout) == (1.5, 0.5)


def test_one_second_is_the_smallest_interval() -> None:
    ok = edited("platina: {interval: 30s}", "platina: {interval: 1s}")
    assert load_text(ok, environ={}).tiers["platina"].timing.interval == 1.0
    too_fast = edited("platina: {interval: 30s}", "platina: {interval: 999ms}")
    with pytest.raises(CatalogError) as caught:
        load_text(too_fast, "services.yaml", environ={})
    assert [str(p) for p in caught.value.problems] == [
        "tiers.platina.interval: 0.999s is below the 1s minimum interval (services.yaml:4)"
    ]
