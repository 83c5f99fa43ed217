"""The catalogue validator knows the tcp dialogue, STARTTLS and DNS options: wrong types,
unknown keys, bad regexes and inconsistent combinations are errors with path and line, all
at once."""

from __future__ import annotations

import pytest

from agent.catalog.loader import load_text
from checks.specs import TcpSpec, TlsSpec
from tests.catalog.example import errors_of, line_of

HEAD = """\
version: 1
services:
  - id: correio
    name: Correio
    macro_service: comunicacoes
    tier: ouro
    checks:
"""


def catalogue(check: str) -> str:
    return HEAD + "".join(f"      {line}\n" for line in check.strip("\n").splitlines())


SMTP_DIALOGUE = """
- tcp:
    host: smtp.example.test
    port: 25
    step_timeout: 5s
    steps:
      - expect: "^220 "
        send: "EHLO vigia\\r\\n"
      - expect: "^250[ -]STARTTLS"
        timeout: 2s
      - {starttls: true, server: x}
"""


def test_a_good_dialogue_loads_into_the_spec() -> None:
    good = SMTP_DIALOGUE.replace(", server: x", "")
    spec = load_text(catalogue(good), environ={}).services[0].checks[0].spec
    assert isinstance(spec, TcpSpec)
    assert [s.expect for s in spec.steps] == ["^220 ", "^250[ -]STARTTLS", None]
    assert spec.steps[1].timeout == 2.0 and spec.step_timeout == 5.0 and spec.steps[2].starttls


def test_unknown_keys_in_a_step_are_named_with_their_line() -> None:
    text = catalogue(SMTP_DIALOGUE)
    assert errors_of(text) == [
        "services[0].checks[0].tcp.steps[2].server: unknown key 'server' "
        f"(services.yaml:{line_of(text, 'starttls: true')})"
    ]


def test_bad_regex_wrong_types_and_empty_steps_are_all_reported() -> None:
    text = catalogue(
        """
- tcp:
    host: ldap.example.test
    port: 389
    step_timeout: soon
    steps:
      - expect: "^(220"
      - {send: 42}
      - {timeout: 1s}
      - {expect: "x", starttls: maybe}
"""
    )
    found = errors_of(text)
    assert found[0] == (
        "services[0].checks[0].tcp.step_timeout: 'soon' is not a duration (use e.g. 500ms, 30s, "
        f"5m, 2h) (services.yaml:{line_of(text, 'step_timeout')})"
    )
    assert found[1].startswith("services[0].checks[0].tcp.steps[0].expect: '^(220' is not a valid")
    assert found[1].endswith(f"(services.yaml:{line_of(text, '^(220')})")
    assert found[2] == (
        "services[0].checks[0].tcp.steps[1].send: 42: input should be a valid string "
        f"(services.yaml:{line_of(text, 'send: 42')})"
    )
    assert found[3] == (
        "services[0].checks[0].tcp.steps[2]: a step needs expect, send or starttls "
        f"(services.yaml:{line_of(text, 'timeout: 1s')})"
    )
    assert found[4].startswith("services[0].checks[0].tcp.steps[3].starttls: 'maybe': input")
    assert len(found) == 5


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            'send: "x", steps: [{expect: y}]',
            "give either send/expect or steps, not both",
        ),
        ("tls: true, starttls: smtp", "give either tls: true (TLS from the start) or starttls"),
        ("server_name: mx.example.test", "server_name: only with tls: true, starttls or a"),
        ("verify: false", "verify: only with tls: true, starttls or a starttls step"),
        (
            "tls: true, steps: [{starttls: true}]",
            "a starttls step on a connection that is already TLS",
        ),
        (
            'steps: [{send: "answer ${1}"}]',
            "steps[0].send uses ${1} but no step before it has an expect",
        ),
        (
            'steps: [{expect: "code (\\\\d+)"}, {send: "x ${2}"}]',
            "steps[1].send uses ${2} but the latest expect has 1 group(s)",
        ),
    ],
)
def test_inconsistent_tcp_options_fail_on_the_tcp_block(fields: str, problem: str) -> None:
    text = catalogue(f"- tcp: {{host: mx.example.test, port: 25, {fields}}}")
    found = errors_of(text)
    assert len(found) == 1 and found[0].startswith("services[0].checks[0].tcp: "), found
    assert problem in found[0]
    assert found[0].endswith("(services.yaml:8)")


def test_starttls_names_a_known_protocol_on_tcp_and_tls() -> None:
    text = catalogue(
        """
- tcp: {host: mx.example.test, port: 25, starttls: xmpp}
- tls: {host: ldap.example.test, port: 389, starttls: LDAP}
"""
    )
    found = errors_of(text)
    assert found[0].startswith("services[0].checks[0].tcp.starttls: 'xmpp': input should be ")
    assert "'smtp', 'imap', 'pop3', 'ldap' or 'ftp'" in found[0]
    assert found[1].startswith("services[0].checks[1].tls.starttls: 'LDAP': input should be ")
    good = load_text(catalogue("- tls: {host: ldap.example.test, port: 389, starttls: ldap}"))
    spec = good.services[0].checks[0].spec
    assert isinstance(spec, TlsSpec) and spec.starttls == "ldap"


def test_a_secret_in_a_send_is_never_printed_in_an_error() -> None:
    text = catalogue(
        """
- tcp:
    host: mx.example.test
    port: 25
    steps:
      - {expect: "^220", send: "AUTH ${SMTP_TOKEN}", bogus: 1}
"""
    )
    found = errors_of(text, environ={"SMTP_TOKEN": "tok-very-secret"})
    assert len(found) == 1 and "bogus" in found[0]
    assert "tok-very-secret" not in " ".join(found)
    spec = load_text(text.replace(", bogus: 1", ""), environ={"SMTP_TOKEN": "tok-very-secret"})
    assert "tok-very-secret" not in repr(spec.services[0].checks[0].spec)
