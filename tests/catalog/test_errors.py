"""Each kind of mistake gives its error with YAML path, value, file and line, all at once."""

from __future__ import annotations

import pytest

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from tests.catalog.example import EXAMPLE, SECOND, edit_second, edited, errors_of


def test_bad_url_names_path_value_file_and_line() -> None:
    text = edited("url: https://app.seg-social.pt/", "url: htp://x")
    assert errors_of(text) == [
        "services[0].checks[0].http.url: 'htp://x' is not an http(s) URL (services.yaml:17)"
    ]


def test_every_mistake_is_reported_at_once_in_line_order() -> None:
    text = edited("url: https://app.seg-social.pt/", "url: htp://x")
    text = edited('"0 2 * * 0"', '"0 25 * * *"', text)
    text = edited("port: 8443}", "port: 8443, bogus: 1}", text)
    text = edited("depends_on: [autenticacao]", "depends_on: [autenticacao, ghost]", text)
    with pytest.raises(CatalogError) as caught:
        load_text(text, "services.yaml", environ={})
    problems = caught.value.problems
    assert [p.path for p in problems] == [
        "services[0].depends_on[1]",
        "services[0].maintenance[0].cron",
        "services[0].checks[0].http.url",
        "services[1].checks[0].tcp.bogus",
    ]
    assert [p.line for p in problems] == [12, 14, 17, 29]
    assert all(p.file == "services.yaml" for p in problems)
    assert str(caught.value).count("\n") == 3  # the exception text lists all four


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("version: 1\n", "version: 1\nextra: 1\n", "extra: unknown key 'extra' (services.yaml:2)"),
        (
            "platina: {interval: 30s}",
            "platina: {intervall: 30s}",
            "tiers.platina.intervall: unknown key 'intervall' (services.yaml:4)",
        ),
        (
            "confirm_up: 2}",
            "confirm_up: 2, retries: 1}",
            "defaults.retries: unknown key 'retries' (services.yaml:2)",
        ),
        (
            "    owner: DAD\n    depends_on",
            "    owner: DAD\n    ownr: x\n    depends_on",
            "services[0].ownr: unknown key 'ownr' (services.yaml:12)",
        ),
        (
            "duration: 2h,",
            "duration: 2h, note: x,",
            "services[0].maintenance[0].note: unknown key 'note' (services.yaml:14)",
        ),
        (
            "      - tls: {host",
            "      - retry: 1\n        tls: {host",
            "services[0].checks[1].retry: unknown key 'retry' (services.yaml:21)",
        ),
        (
            "min_days: 21}",
            "min_days: 21, min_dayz: 3}",
            "services[0].checks[1].tls.min_dayz: unknown key 'min_dayz' (services.yaml:21)",
        ),
        (
            "max_latency: 2s",
            "max_latency: 2s\n          max_latncy: 3s",
            "services[0].checks[0].http.max_latncy: unknown key 'max_latncy' (services.yaml:21)",
        ),
    ],
)
def test_unknown_keys_are_errors_at_every_level(old: str, new: str, problem: str) -> None:
    assert errors_of(edited(old, new)) == [problem]


def test_unknown_key_inside_a_check_spec_of_the_second_service() -> None:
    text = edit_second("port: 8443}", "port: 8443, bogus: 1}")
    assert errors_of(text) == [
        "services[1].checks[0].tcp.bogus: unknown key 'bogus' (services.yaml:29)"
    ]


def test_duplicate_service_id() -> None:
    text = edit_second("id: autenticacao", "id: ssd").replace("[autenticacao]", "[]")
    assert errors_of(text) == [
        "services[1].id: duplicate id 'ssd' (first at services[0]) (services.yaml:22)"
    ]


def test_dangling_depends_on() -> None:
    text = edited("[autenticacao]", "[autenticacao, ghost]")
    assert errors_of(text) == [
        "services[0].depends_on[1]: 'ghost' is not a service id in this catalogue "
        "(services.yaml:12)"
    ]


def test_dependency_cycle() -> None:
    text = edit_second("    checks:", "    depends_on: [ssd]\n    checks:")
    (problem,) = errors_of(text)
    assert problem.startswith("services[0].depends_on: dependency cycle: ")
    assert "ssd -> autenticacao -> ssd" in problem and problem.endswith("(services.yaml:12)")


def test_a_service_depending_on_itself_is_a_cycle() -> None:
    text = edited("[autenticacao]", "[ssd]")
    assert errors_of(text) == [
        "services[0].depends_on: dependency cycle: ssd -> ssd (services.yaml:12)"
    ]


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("0 25 * * *", "maximum value (23)"),
        ("61 * * * *", "maximum value (59)"),
        ("0 2 * *", "not a 5-field cron expression"),
        ("0 2 * * 8", "is not a weekday"),
        ("0 2 * * mon-xyz", "is not a weekday"),
        ("0 2 * * */0", "bad step"),
        ("0 2 * * 5-1", "runs backwards"),
        ("0 2 32 * *", "maximum value (31)"),
    ],
)
def test_bad_cron_is_an_error(cron: str, reason: str) -> None:
    (problem,) = errors_of(edited('"0 2 * * 0"', f'"{cron}"'))
    assert problem.startswith(f"services[0].maintenance[0].cron: {cron!r} is not a valid cron")
    assert reason in problem and problem.endswith("(services.yaml:14)")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "/etc/passwd"])
def test_bad_timezone_is_an_error(zone: str) -> None:
    assert errors_of(edited("timezone: Europe/Lisbon", f"timezone: {zone}")) == [
        f"services[0].maintenance[0].timezone: {zone!r} is not a time zone (services.yaml:14)"
    ]


@pytest.mark.parametrize("duration", ["0s", "32d"])
def test_maintenance_window_must_have_a_sensible_length(duration: str) -> None:
    (problem,) = errors_of(edited("duration: 2h", f"duration: {duration}"))
    assert problem.startswith("services[0].maintenance[0].duration: ")
    assert "not a window length" in problem


def test_unknown_tier() -> None:
    assert errors_of(edit_second("tier: platina", "tier: diamante")) == [
        "services[1].tier: 'diamante' is not a tier (known: bronze, ouro, platina, prata) "
        "(services.yaml:25)"
    ]


def test_a_tier_declared_in_the_catalogue_is_known() -> None:
    text = edited(
        "  platina: {interval: 30s}\n", "  platina: {interval: 30s}\n  vip: {interval: 10s}\n"
    )
    text = text.replace(SECOND, SECOND.replace("tier: platina", "tier: vip"))
    auth = load_text(text, environ={}).by_id["autenticacao"]
    assert auth.tier == "vip" and auth.checks[0].interval == 10.0


def test_unknown_macro_service() -> None:
    (problem,) = errors_of(
        edit_second("macro_service: desenvolvimento-aplicacoes", "macro_service: nada")
    )
    assert problem.startswith("services[1].macro_service: 'nada': input should be ")
    assert "'gestao-informacao'" in problem and problem.endswith("(services.yaml:24)")


@pytest.mark.parametrize("bad", ["2 hours", "2x", "-5m"])
def test_bad_duration(bad: str) -> None:
    (problem,) = errors_of(edited("duration: 2h", f"duration: {bad}"))
    assert problem.startswith(f"services[0].maintenance[0].duration: {bad!r} is ")
    assert problem.endswith("(services.yaml:14)")


def test_a_check_with_two_kinds() -> None:
    text = edit_second("port: 8443}\n", "port: 8443}\n        icmp: {host: 127.0.0.1}\n")
    assert errors_of(text) == [
        "services[1].checks[0]: a check needs exactly one kind of http, scenario, tcp, tls, "
        "dns, icmp, heartbeat, nagios, host (found: tcp, icmp) (services.yaml:29)"
    ]


def test_a_check_with_no_kind() -> None:
    text = edit_second("- tcp: {host: 127.0.0.1, port: 8443}", "- name: nothing")
    (problem,) = errors_of(text)
    assert problem.startswith("services[1].checks[0]: a check needs exactly one kind")
    assert "(found: none)" in problem and problem.endswith("(services.yaml:29)")


def test_invalid_yaml_syntax_gives_the_line() -> None:
    text = edited("  platina: {interval: 30s}", "  platina: {interval: 30s")
    (problem,) = errors_of(text)
    assert problem.startswith("invalid YAML: ")
    assert problem.endswith("(services.yaml:5)")


def test_forbidden_character_gives_the_line() -> None:
    text = edited("    owner: DAD\n    checks", "    owner: DA\x07D\n    checks")
    (problem,) = errors_of(text)
    assert problem == ("invalid YAML: special characters are not allowed (services.yaml:27)")


def test_duplicate_yaml_keys_are_errors_with_other_mistakes_too() -> None:
    text = edit_second("    pcn: true\n", "    pcn: true\n    pcn: false\n")
    text = edited("url: https://app.seg-social.pt/", "url: htp://x", text)
    assert errors_of(text) == [
        "services[0].checks[0].http.url: 'htp://x' is not an http(s) URL (services.yaml:17)",
        "services[1].pcn: duplicate key 'pcn' (services.yaml:27)",
    ]


def test_monitored_service_without_checks() -> None:
    text = edit_second("    checks:\n      - tcp: {host: 127.0.0.1, port: 8443}\n", "")
    assert errors_of(text) == [
        "services[1]: a monitored service needs at least one check (or monitored: false) "
        "(services.yaml:22)"
    ]


def test_unmonitored_service_may_have_no_checks() -> None:
    text = edit_second(
        "    checks:\n      - tcp: {host: 127.0.0.1, port: 8443}\n", "    monitored: false\n"
    )
    catalog = load_text(text, environ={})
    assert catalog.by_id["autenticacao"].checks == ()
    assert [s.id for s in catalog.monitored] == ["ssd"]


def test_missing_environment_variable() -> None:
    text = edit_second("host: 127.0.0.1", 'host: "${MISSING}"')
    assert errors_of(text, environ={"OTHER": "x"}) == [
        "services[1].checks[0].tcp.host: environment variable MISSING is not set (services.yaml:29)"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "just text",
        "version: 2\nservices: []",
        "services: []",
        "version: 1\nservices: {a: 1}",
        "version: 1\nservices: &a [*a]\n",
        "version: 1\nwhen: 2024-13-45\n",
        "version: 1\nservices: [{id: x, depends_on: [{a: 1}]}]",
        "version: 1\ntiers: {1: {}}\nservices: [{id: x, tier: zzz}]",
        pytest.param("[" * 1000 + "]" * 1000, id="nested-1000-deep"),
    ],
)
def test_odd_documents_give_a_catalog_error_not_a_crash(text: str) -> None:
    assert errors_of(text)


def test_alias_explosion_is_refused() -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 7)]
    (problem,) = errors_of("\n".join(lines))
    assert problem.startswith("invalid YAML: aliases expand to more than 20 times the")
    assert "alias explosion" in problem and "(services.yaml:" in problem


def test_an_honest_catalogue_far_above_100000_values_loads() -> None:
    """10,000 services with expect_status lists: the old size cap refused this as a bomb."""
    lines = ["version: 1", "tiers: {ouro: {}}", "services:"]
    for n in range(10_000):
        lines += [
            f"  - id: s{n}",
            f"    name: Service {n}",
            "    macro_service: comunicacoes",
            "    tier: ouro",
            "    checks:",
            f"      - http: {{url: 'https://h{n}.example/', expect_status: [200, 301, 302]}}",
        ]
    catalog = load_text("\n".join(lines) + "\n", "services.yaml", environ={})
    assert len(catalog.by_id) == 10_000
    assert catalog.by_id["s9999"].checks[0].name == "http"


def test_shared_defaults_through_merge_keys_are_not_an_explosion() -> None:
    check = "{url: 'https://a.example/', expect_status: [200, 301, 302]}"
    lines = ["version: 1", "tiers: {ouro: {}}", "services:"]
    for n in range(2_000):
        reuse = f"&check {check}" if n == 0 else "{<<: *check}"
        lines += [f"  - {{id: s{n}, name: S{n}, macro_service: comunicacoes, tier: ouro,"]
        lines += [f"     checks: [{{http: {reuse}}}]}}"]
    catalog = load_text("\n".join(lines) + "\n", "services.yaml", environ={})
    assert len(catalog.by_id) == 2_000
    assert catalog.by_id["s1999"].checks[0].name == "http"


def test_example_is_untouched_by_the_helpers() -> None:
    assert load_text(EXAMPLE, environ={}).by_id["ssd"].checks[0].name == "http"


def test_a_check_kind_without_settings_is_an_error_not_a_crash() -> None:
    text = edit_second("- tcp: {host: 127.0.0.1, port: 8443}", "- tcp:")
    assert errors_of(text) == [
        "services[1].checks[0]: 'tcp' is empty: give its settings (services.yaml:29)"
    ]


def test_body_not_conditions_are_validated_with_path_and_line() -> None:
    text = edited(
        "url: https://app.seg-social.pt/",
        "url: https://app.seg-social.pt/\n"
        '          body_not_regex: "(x"\n'
        "          body_not_contains: [1]",
    )
    problems = errors_of(text)
    assert len(problems) == 2, problems
    assert any(
        p.startswith("services[0].checks[0].http.body_not_regex: '(x' is not a valid regular")
        and p.endswith("(services.yaml:18)")
        for p in problems
    ), problems
    assert any(p.startswith("services[0].checks[0].http.body_not_contains") for p in problems)
