"""The catalogue validator knows the http probe's options of #17 (options 4, 8, 10, 11): a
wrong type, an unknown key or a bad expression is an error with its YAML path and line, all at
once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.catalog.loader import load_text
from checks.specs import HttpSpec
from tests.catalog.example import EXAMPLE, edited, errors_of, line_of

HTTP = '          body_contains: "Segurança Social"\n'


def with_http(lines: str, text: str = EXAMPLE) -> str:
    """The example with `lines` (indented as options of the first http check) added."""
    return edited(HTTP, HTTP + lines, text)


def test_cel_expressions_compile_at_load_and_bad_ones_name_path_and_line() -> None:
    text = with_http(
        "          expect_json:\n"
        "            - 'body.status == \"UP\"'\n"
        "            - '!body.checks.exists(c, c.status == \"DOWN\")'\n"
        "            - 'body.status =='\n"
        "            - 'bdy.status == 1'\n"
    )
    assert errors_of(text) == [
        "services[0].checks[0].http.expect_json[2]: not a CEL expression: Syntax error: "
        "mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', "
        f"'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}} (column 15) "
        f"(services.yaml:{line_of(text, 'body.status ==' + chr(39))})",
        "services[0].checks[0].http.expect_json[3]: unknown variable 'bdy' (known: body, "
        f"status, headers) (services.yaml:{line_of(text, 'bdy.status')})",
    ]


def test_valid_cel_expressions_load() -> None:
    text = with_http("          expect_json: ['has(body.status)']\n")
    check = load_text(text, "services.yaml", environ={}).services[0].checks[0]
    assert check.spec.expect_json == ["has(body.status)"]  # type: ignore[union-attr]


def test_expect_json_must_be_a_list_of_strings() -> None:
    assert errors_of(with_http("          expect_json: {a: 1}\n"))[0].startswith(
        "services[0].checks[0].http.expect_json: "
    )


OAUTH = (
    "          auth:\n"
    "            oauth2:\n"
    "              token_url: https://idp.seg-social.pt/token\n"
    "              client_id: vigia\n"
    '              client_secret: "${IDP_SECRET}"\n'
    "              scopes: [health]\n"
)


def test_oauth2_loads_with_its_secret_from_the_environment() -> None:
    text = with_http(OAUTH)
    catalog = load_text(text, "services.yaml", environ={"IDP_SECRET": "from-the-env-123"})
    spec = catalog.services[0].checks[0].spec
    assert isinstance(spec, HttpSpec) and spec.auth is not None and spec.auth.oauth2 is not None
    config = spec.auth.oauth2
    assert config.client_secret.get_secret_value() == "from-the-env-123"
    assert "from-the-env-123" not in repr(catalog)


def test_oauth2_mistakes_name_path_and_line() -> None:
    text = with_http(
        OAUTH.replace("token_url: https://idp.seg-social.pt/token", "token_url: idp/token").replace(
            "scopes: [health]", "scopes: [health, 'a b']\n              grant: x"
        )
    )
    environ = {"IDP_SECRET": "x"}
    assert errors_of(text, environ) == [
        "services[0].checks[0].http.auth.oauth2.token_url: 'idp/token' is not an http(s) URL "
        f"(services.yaml:{line_of(text, 'token_url')})",
        "services[0].checks[0].http.auth.oauth2.scopes[1]: 'a b' is not an OAuth2 scope "
        f"(services.yaml:{line_of(text, 'scopes')})",
        "services[0].checks[0].http.auth.oauth2.grant: unknown key 'grant' "
        f"(services.yaml:{line_of(text, 'grant')})",
    ]


def test_a_missing_body_file_is_a_load_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    text = with_http(f"          body_file: {missing}\n")
    assert errors_of(text) == [
        f"services[0].checks[0].http.body_file: cannot read body_file '{missing}': No such file "
        f"or directory (services.yaml:{line_of(text, 'body_file')})"
    ]
    both = tmp_path / "body.json"
    both.write_text("{}")
    text = with_http(f"          body_file: {both}\n          body: x\n")
    assert errors_of(text)[0].startswith("services[0].checks[0].http: give body or body_file")


SCENARIO = """\
      - name: login-flow
        scenario:
          steps:
            - name: login
              url: https://auth.seg-social.pt/login
              method: POST
              body: "user=vigia&password=${AUTH_PASSWORD}"
              expect_status: [302]
              follow_redirects: false
              capture:
                session: {header: Location, regex: "ticket=([^&]+)"}
            - name: page
              url: "https://app.seg-social.pt/area?ticket={{session}}"
              headers: {X-Trace: "{{trace}}"}
              body_contains: "Bem-vindo"
"""


def with_scenario(text: str = SCENARIO) -> str:
    tls = "      - tls: {host: app.seg-social.pt, port: 443, min_days: 21}\n"
    return edited(tls, tls + text)


def test_a_scenario_loads_as_its_own_kind_with_its_steps() -> None:
    text = with_scenario(SCENARIO.replace('              headers: {X-Trace: "{{trace}}"}\n', ""))
    catalog = load_text(text, "services.yaml", environ={"AUTH_PASSWORD": "pw-1234"})
    check = catalog.checks["ssd/login-flow"]
    assert check.kind == "scenario"
    assert [s.name for s in check.spec.steps] == ["login", "page"]  # type: ignore[union-attr]
    assert check.spec.steps[0].reuse_connection is False  # type: ignore[union-attr]


def test_scenario_mistakes_name_path_and_line() -> None:
    text = with_scenario(
        SCENARIO.replace("- name: page", "- name: login")
        .replace("session: {header: Location,", "session: {header: Location, json: $.x,")
        .replace('body_contains: "Bem', 'body_contain: "Bem')
    )
    step = "services[0].checks[2].scenario.steps"
    assert errors_of(text, {"AUTH_PASSWORD": "pw-5678"}) == [
        f"{step}[0].capture.session: give exactly one of header, json or body_regex "
        f"(services.yaml:{line_of(text, 'session:')})",
        f"{step}[1].body_contain: unknown key 'body_contain' "
        f"(services.yaml:{line_of(text, 'body_contain:')})",
    ]
    text = with_scenario(SCENARIO.replace("- name: page", "- name: login"))
    assert errors_of(text, {"AUTH_PASSWORD": "pw-5678"}) == [
        f"{step}[1].name: duplicate step name 'login' "
        f"(services.yaml:{line_of(text, 'url: ' + chr(34) + 'https://app') - 1})",
        f"{step}[1].headers.X-Trace: {{{{trace}}}} is not captured by an earlier step "
        f"(services.yaml:{line_of(text, 'X-Trace')})",
    ]


def _http_spec(text: str, environ: dict[str, str] | None = None) -> Any:
    return load_text(text, "services.yaml", environ=environ or {}).checks["ssd/http"].spec


def test_a_proxy_is_inherited_from_defaults_and_service_with_env_credentials() -> None:
    text = edited(
        "defaults: {interval: 60s,",
        'defaults: {proxy: "http://vigia:${PROXY_PASSWORD}@proxy.interno:3128", interval: 60s,',
    )
    environ = {"PROXY_PASSWORD": "pr0xy-secret"}
    spec = _http_spec(text, environ)
    assert spec.proxy == "http://vigia:pr0xy-secret@proxy.interno:3128"
    assert "pr0xy-secret" not in repr(spec)
    service = edited(
        "    owner: DAD\n    depends_on",
        "    owner: DAD\n    no_proxy: [seg-social.pt]\n    depends_on",
        text,
    )
    assert _http_spec(service, environ).no_proxy == ["seg-social.pt"]
    own = with_http("          proxy: http://other:8080\n", text)
    assert _http_spec(own, environ).proxy == "http://other:8080"


def test_proxy_from_env_reads_the_agents_environment_at_load() -> None:
    text = edited("defaults: {interval: 60s,", "defaults: {proxy_from_env: true, interval: 60s,")
    environ = {"HTTPS_PROXY": "http://proxy.interno:3128", "NO_PROXY": "localhost, .interno"}
    spec = _http_spec(text, environ)
    assert (spec.proxy, spec.no_proxy) == ("http://proxy.interno:3128", ["localhost", ".interno"])
    assert _http_spec(text, {"HTTP_PROXY": "http://p:1"}).proxy is None  # the URL is https
    assert _http_spec(text, {}).proxy is None
    assert errors_of(text, {"HTTPS_PROXY": "socks5://p:1080"}) == [
        "proxy_from_env: 'socks5://p:1080' is not an http(s) proxy URL (services.yaml)"
    ]


def test_proxy_mistakes_name_path_and_line() -> None:
    text = with_http("          proxy: ftp://proxy:21\n          no_proxy: localhost\n")
    assert errors_of(text) == [
        "services[0].checks[0].http.proxy: 'ftp://proxy:21' is not an http(s) proxy URL "
        f"(services.yaml:{line_of(text, 'proxy: ftp')})",
        "services[0].checks[0].http.no_proxy: 'localhost': input should be a valid list "
        f"(services.yaml:{line_of(text, 'no_proxy')})",
    ]
