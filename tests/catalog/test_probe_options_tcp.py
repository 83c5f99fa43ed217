"""The catalogue validator knows the tcp dialogue, STARTTLS and DNS options of #17 (the others:
test_probe_options_http.py, test_probe_options_family_tls_headers.py): wrong types, unknown
keys, bad regexes and inconsistent combinations are errors with path and line, all at once."""

from __future__ import annotations

import re

import pytest
import yaml

from agent.catalog.loader import load_text
from checks.specs import KINDS, DnsSpec, TcpSpec, TlsSpec
from tests.catalog.example import errors_of, line_of
from tests.catalog.test_probe_docs import DOCS

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


def test_bad_dns_rules_rcodes_and_tls_options_are_all_reported() -> None:
    text = catalogue(
        """
- dns:
    name: seg-social.pt
    expect_rcode: [NOERROR, NXDMAIN]
    recursion_desired: sometimes
    server_name: dns.example.test
    validate_answer_rrs:
      fail_if_matches_regexp: ["\\\\tA\\\\t(10"]
      fail_if_not_matching: ["x"]
    validate_authority_rrs: {fail_if_none_matches_regexp: "SOA"}
"""
    )
    found = errors_of(text)
    prefix = "services[0].checks[0].dns"
    assert found[0].startswith(f"{prefix}.expect_rcode[1]: 'NXDMAIN': input should be ")
    assert found[0].endswith(f"(services.yaml:{line_of(text, 'NXDMAIN')})")
    assert found[1].startswith(f"{prefix}.recursion_desired: 'sometimes': input should be")
    assert found[2].startswith(
        f"{prefix}.validate_answer_rrs.fail_if_matches_regexp: '\\\\tA\\\\t(10' is not a valid "
        "regular expression"
    )
    assert found[2].endswith(f"(services.yaml:{line_of(text, 'fail_if_matches_regexp')})")
    assert found[3] == (
        f"{prefix}.validate_answer_rrs.fail_if_not_matching: unknown key 'fail_if_not_matching' "
        f"(services.yaml:{line_of(text, 'fail_if_not_matching')})"
    )
    assert found[4].startswith(
        f"{prefix}.validate_authority_rrs.fail_if_none_matches_regexp: 'SOA': input should be "
        "a valid list"
    )
    assert len(found) == 5, found


def test_dns_tls_options_need_protocol_tls_and_rcodes_a_non_empty_list() -> None:
    text = catalogue(
        """
- dns: {name: a.example.test, server_name: dns.example.test, ca_bundle: /etc/ca.pem}
- dns: {name: b.example.test, expect_rcode: []}
- dns: {name: c.example.test, protocol: doh}
"""
    )
    found = errors_of(text)
    assert found[0] == (
        "services[0].checks[0].dns: server_name, ca_bundle: only with protocol: tls "
        "(services.yaml:8)"
    )
    assert found[1] == (
        "services[0].checks[1].dns.expect_rcode: list at least one rcode (services.yaml:9)"
    )
    assert found[2].startswith("services[0].checks[2].dns.protocol: 'doh': input should be ")


def test_good_dns_options_load() -> None:
    text = catalogue(
        """
- dns:
    name: seg-social.pt
    type: MX
    protocol: tls
    resolver: 127.0.0.1
    server_name: dns.example.test
    expect_rcode: [NOERROR, NXDOMAIN]
    recursion_desired: false
    validate_additional_rrs: {fail_if_all_match_regexp: ["\\\\t0\\\\tIN"]}
"""
    )
    spec = load_text(text, environ={}).services[0].checks[0].spec
    assert isinstance(spec, DnsSpec)
    assert spec.valid_rcodes == ("NOERROR", "NXDOMAIN") and spec.server_port == 853
    assert spec.validate_additional_rrs.fail_if_all_match_regexp == ["\\t0\\tIN"]
    assert not spec.validate_answer_rrs.configured and spec.validate_additional_rrs.configured


def test_every_yaml_example_of_the_probe_docs_validates() -> None:
    text = DOCS.read_text(encoding="utf-8")
    checked = 0
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        loaded = yaml.safe_load(block)
        for item in loaded if isinstance(loaded, list) else [loaded]:
            for kind, fields in item.items() if isinstance(item, dict) else ():
                if kind in KINDS:
                    KINDS[kind].model_validate(fields)
                    checked += 1
    assert checked >= 14
