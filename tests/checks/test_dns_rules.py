"""DNS record rules on every section, several valid rcodes, recursion_desired and DNS over TLS,
against the real loopback server of tests/checks/dnsserver.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from checks import dns as dns_probe
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import DnsSpec
from tests.checks.dnsserver import DnsServer, serve_dns
from tests.checks.loopback import Pki, days_from_now

SOA = "example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 7 3600 600 86400 300"
GLUE = "ns1.example.org. 86400 IN A 192.0.2.53"


@pytest.fixture
async def server(pki: Pki) -> AsyncIterator[DnsServer]:
    tls = pki.server_context("localhost", "127.0.0.1", not_after=days_from_now(30))
    async with serve_dns(tls=tls) as running:
        running.records[("www.example.org", "A")] = ["192.0.2.1", "192.0.2.2"]
        running.records[("example.org", "MX")] = ["10 mail.example.org."]
        running.authority = [SOA]
        running.additional = [GLUE]
        yield running


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


async def ask(server: DnsServer, ctx: ProbeContext, **fields: Any) -> Verdict:
    fields.setdefault("name", "www.example.org")
    spec = DnsSpec(resolver="127.0.0.1", port=server.port, **fields)
    return await dns_probe.probe(spec, 2, ctx, check_id="s/dns")


async def test_records_are_matched_in_the_exporters_text_form_ttl_included(
    server: DnsServer, ctx: ProbeContext
) -> None:
    rules = {"fail_if_not_matches_regexp": [r"^www\.example\.org\.\t300\tIN\tA\t192\.0\.2\.\d+$"]}
    assert (await ask(server, ctx, validate_answer_rrs=rules)).outcome is Outcome.OK
    server.ttl = 5  # someone lowered the TTL
    verdict = await ask(server, ctx, validate_answer_rrs=rules)
    assert verdict.outcome is Outcome.FAIL
    # the first record (in the server's order) that breaks the rule is quoted
    assert re.fullmatch(
        r"www\.example\.org A: answer record 'www\.example\.org\. 5 IN A 192\.0\.2\.[12]' "
        r"does not match /\^www.*\$/",
        verdict.reason,
    ), verdict.reason


async def test_a_forbidden_answer_fails_naming_the_record(
    server: DnsServer, ctx: ProbeContext
) -> None:
    rules = {"fail_if_matches_regexp": [r"\t10\.\d+\.\d+\.\d+$"]}  # a private address leaked
    assert (await ask(server, ctx, validate_answer_rrs=rules)).outcome is Outcome.OK
    server.records[("www.example.org", "A")] = ["192.0.2.1", "10.1.2.3"]
    verdict = await ask(server, ctx, validate_answer_rrs=rules)
    assert verdict.reason == (
        "www.example.org A: answer record 'www.example.org. 300 IN A 10.1.2.3' matches "
        r"/\t10\.\d+\.\d+\.\d+$/, which fails the probe"
    )


async def test_authority_and_additional_sections_have_their_own_rules(
    server: DnsServer, ctx: ProbeContext
) -> None:
    verdict = await ask(
        server,
        ctx,
        validate_authority_rrs={"fail_if_none_matches_regexp": [r"\tSOA\tns1\.example\.org\. "]},
        validate_additional_rrs={"fail_if_not_matches_regexp": [r"^ns1\.example\.org\."]},
    )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["authority_rrs"] == 1
    assert verdict.measurements["additional_rrs"] == 1
    assert verdict.measurements["answer_rrs"] == 2
    server.authority = [SOA.replace("ns1.example.org.", "ns9.evil.test.")]
    server.additional = []
    verdict = await ask(
        server,
        ctx,
        validate_authority_rrs={"fail_if_none_matches_regexp": [r"\tSOA\tns1\.example\.org\. "]},
    )
    assert verdict.reason == (
        r"www.example.org A: no authority record matches /\tSOA\tns1\.example\.org\. / (of 1)"
    )
    empty = await ask(server, ctx, validate_additional_rrs={"fail_if_not_matches_regexp": ["^ns1"]})
    assert empty.reason == "www.example.org A: no additional records to match /^ns1/"


async def test_fail_if_all_match_fails_only_when_every_record_matches(
    server: DnsServer, ctx: ProbeContext
) -> None:
    rules = {"fail_if_all_match_regexp": [r"\t192\.0\.2\.1$"]}
    assert (await ask(server, ctx, validate_answer_rrs=rules)).outcome is Outcome.OK
    server.records[("www.example.org", "A")] = ["192.0.2.1"]  # the second backend left
    verdict = await ask(server, ctx, validate_answer_rrs=rules)
    assert verdict.reason.endswith(
        r"every answer record matches /\t192\.0\.2\.1$/, which fails the probe"
    )


async def test_several_valid_rcodes(server: DnsServer, ctx: ProbeContext) -> None:
    either = ["NOERROR", "NXDOMAIN"]
    assert (await ask(server, ctx, name="gone.example.org", expect_rcode=either)).outcome is (
        Outcome.OK
    )
    # absence is fine, so NODATA is too
    nodata = await ask(server, ctx, type="MX", expect_rcode=either)
    assert nodata.outcome is Outcome.OK, nodata.reason
    server.rcodes["www.example.org"] = "SERVFAIL"
    verdict = await ask(server, ctx, expect_rcode=either)
    assert verdict.reason == (
        f"rcode SERVFAIL for www.example.org A from 127.0.0.1:{server.port} "
        "(expected NOERROR or NXDOMAIN)"
    )


async def test_nodata_judged_by_the_rules_when_the_check_has_them(
    server: DnsServer, ctx: ProbeContext
) -> None:
    # NODATA: the SOA in authority says the name exists without MX, which is what is checked
    verdict = await ask(
        server, ctx, type="MX", validate_authority_rrs={"fail_if_none_matches_regexp": ["SOA"]}
    )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert (await ask(server, ctx, type="MX")).outcome is Outcome.FAIL


async def test_recursion_desired_sets_the_rd_flag(server: DnsServer, ctx: ProbeContext) -> None:
    await ask(server, ctx)
    await ask(server, ctx, recursion_desired=False)
    assert server.recursion_desired == [True, False]


async def test_dns_over_tls_verifies_the_resolver(
    server: DnsServer, ctx: ProbeContext, pki: Pki
) -> None:
    def over_tls(**fields: Any) -> DnsSpec:
        return DnsSpec(
            name="www.example.org",
            resolver="127.0.0.1",
            port=server.tls_port,
            protocol="tls",
            **fields,
        )

    verdict = await dns_probe.probe(over_tls(ca_bundle=pki.ca_bundle), 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["answers"] == ["192.0.2.1", "192.0.2.2"]
    assert [proto for proto, _, _ in server.queries] == ["tls"]
    named = over_tls(ca_bundle=pki.ca_bundle, server_name="dns.other.test")
    wrong_name = await dns_probe.probe(named, 2, ctx, check_id="c")
    untrusted = await dns_probe.probe(over_tls(), 2, ctx, check_id="c")
    assert wrong_name.reason.startswith(
        f"DNS over TLS to 127.0.0.1:{server.tls_port}: certificate verification failed: "
    )
    assert "Hostname mismatch" in wrong_name.reason
    assert untrusted.outcome is Outcome.FAIL and "certificate verification failed" in (
        untrusted.reason
    )
    assert len(server.queries) == 1  # no query left over an unverified connection


def test_dns_over_tls_defaults_to_port_853() -> None:
    assert DnsSpec(name="x.example", protocol="tls").server_port == 853
    assert DnsSpec(name="x.example").server_port == 53
