"""The catalogue validator knows the probe options of #17 options 2, 6 and 7 (header rules, IP
family, TLS on the http probe, the tls check's max_version): wrong types, unknown keys and bad
regexes are errors with their YAML path and line, all at once."""

from __future__ import annotations

from agent.catalog.loader import load_text
from tests.catalog.example import EXAMPLE, edited, errors_of

HTTP = "url: https://app.seg-social.pt/"


def _http(*lines: str) -> str:
    return edited(HTTP, "\n          ".join((HTTP, *lines)))


def test_header_rules_load_in_both_forms() -> None:
    text = _http(
        "expect_headers: {Strict-Transport-Security: 'max-age=\\d+'}",
        "forbid_headers:",
        "  Server: 'Apache/2\\.2'",
        "  X-Powered-By: {regex: PHP, allow_missing: true}",
    )
    spec = load_text(text, environ={}).by_id["ssd"].checks[0].spec
    assert spec.forbid_headers["X-Powered-By"].allow_missing is True  # type: ignore[union-attr]


def test_bad_header_rules_are_all_reported_with_path_and_line() -> None:
    text = _http(
        "forbid_headers:",
        '  Server: {regex: "(x", allow_missing: 1.5}',
        "  X-Powered-By: {regx: PHP}",
        "expect_headers: {X-A: 3, 'bad name': x}",
    )
    where = "services[0].checks[0].http"
    assert errors_of(text) == [
        f"{where}.forbid_headers.Server.allow_missing: 1.5: input should be a valid boolean "
        "(services.yaml:19)",
        f"{where}.forbid_headers.Server.regex: '(x' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0 (services.yaml:19)",
        f"{where}.forbid_headers.X-Powered-By.regex: required key is missing (services.yaml:20)",
        f"{where}.forbid_headers.X-Powered-By.regx: unknown key 'regx' (services.yaml:20)",
        f"{where}.expect_headers.X-A: 3 is not a header rule (a regex, or {{regex, "
        "allow_missing}) (services.yaml:21)",
        f"{where}.expect_headers.bad name: 'bad name' is not a header name (services.yaml:21)",
    ]


def test_the_example_still_loads() -> None:
    assert load_text(EXAMPLE, environ={}).by_id["ssd"]


def test_ip_family_loads_on_http_tcp_tls_and_dns() -> None:
    text = _http("ip_family: ip6")
    text = edited("port: 443, min_days: 21}", "port: 443, min_days: 21, ip_family: ip4}", text)
    text = edited(
        "- tcp: {host: 127.0.0.1, port: 8443}",
        "- tcp: {host: relay.example, port: 25, ip_family: ip6, fallback: true}\n"
        "      - dns: {name: x.example, resolver: '::1', ip_family: ip6}",
        text,
    )
    catalog = load_text(text, environ={})
    families = [
        (c.spec.ip_family, c.spec.ip_fallback)  # type: ignore[union-attr]
        for s in catalog.services
        for c in s.checks
    ]
    assert families == [("ip6", False), ("ip4", False), ("ip6", True), ("ip6", False)]


def test_bad_ip_family_settings_are_all_reported_with_path_and_line() -> None:
    text = _http("ip_family: ipv6")
    text = edited("port: 443, min_days: 21}", "port: 443, min_days: 21, fallback: true}", text)
    text = edited(
        "- tcp: {host: 127.0.0.1, port: 8443}",
        "- tcp: {host: 127.0.0.1, port: 8443, ip_family: ip6}\n"
        "      - dns: {name: x.example, ip_family: ip4, fallback: maybe}",
        text,
    )
    assert errors_of(text) == [
        "services[0].checks[0].http.ip_family: 'ipv6': input should be 'ip4', 'ip6' or 'any' "
        "(services.yaml:18)",
        "services[0].checks[1].tls: fallback needs ip_family ip4 or ip6 (any uses both "
        "families) (services.yaml:22)",
        "services[1].checks[0].tcp: 127.0.0.1 is an IPv4 address, but ip_family is ip6 "
        "(without fallback) (services.yaml:30)",
        "services[1].checks[1].dns.fallback: 'maybe': input should be a valid boolean, "
        "unable to interpret input "
        "(services.yaml:31)",
    ]


def test_tls_options_of_the_http_probe_and_the_tls_max_version_load() -> None:
    text = _http("server_name: app.seg-social.pt", "min_version: TLSv1.2", "max_version: TLSv1.3")
    text = edited(
        "port: 443, min_days: 21}", "port: 443, min_days: 21, max_version: TLSv1.1}", text
    )
    checks = load_text(text, environ={}).by_id["ssd"].checks
    assert checks[0].spec.server_name == "app.seg-social.pt"  # type: ignore[union-attr]
    assert checks[1].spec.max_version == "TLSv1.1"  # type: ignore[union-attr]


def test_bad_tls_options_are_all_reported_with_path_and_line() -> None:
    text = _http("server_name: 'no such name'", "min_version: TLSv1.3", "max_version: TLSv1.2")
    text = edited("port: 443, min_days: 21}", "port: 443, min_days: 21, max_version: SSLv3}", text)
    where = "services[0].checks"
    assert errors_of(text) == [
        f"{where}[0].http.server_name: 'no such name' is not a host name (services.yaml:18)",
        f"{where}[1].tls.max_version: 'SSLv3': input should be 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
        "or 'TLSv1.3' (services.yaml:24)",
    ]
    # the range is judged once the fields are valid
    text = _http("min_version: TLSv1.3", "max_version: TLSv1.2")
    assert errors_of(text) == [
        "services[0].checks[0].http: max_version TLSv1.2 is below min_version TLSv1.3 "
        "(services.yaml:16)"
    ]
