"""The catalogue validator knows the probe options of #17 (header rules, IP family, TLS on the
http probe, the tls check's max_version): wrong types, unknown keys and bad regexes are errors
with their YAML path and line, all at once."""

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
