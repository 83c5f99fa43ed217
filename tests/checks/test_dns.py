"""DNS probe against a real authoritative server on 127.0.0.1 (tests/checks/dnsserver.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from checks import dns as dns_probe
from checks.context import ProbeContext
from checks.result import Outcome
from checks.specs import DnsSpec
from tests.checks.dnsserver import DnsServer, serve_dns


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with serve_dns() as running:
        running.records[("www.example.org", "A")] = ["192.0.2.1", "192.0.2.2"]
        running.records[("www.example.org", "TXT")] = ['"v=spf1 -all"']
        running.records[("example.org", "MX")] = ["10 Mail.Example.org.", "20 backup.example.org."]
        running.records[("v6.example.org", "AAAA")] = ["2001:db8:0:0::1"]
        yield running


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


def spec_for(server: DnsServer, **fields: Any) -> DnsSpec:
    return DnsSpec(resolver="127.0.0.1", port=server.port, **fields)


async def test_answers_are_reported_sorted_on_success(server: DnsServer, ctx: ProbeContext) -> None:
    verdict = await dns_probe.probe(
        spec_for(server, name="www.example.org"), 2, ctx, check_id="s/c"
    )
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["answers"] == ["192.0.2.1", "192.0.2.2"]
    assert verdict.measurements["rcode"] == "NOERROR"
    assert verdict.measurements["ttl"] == 300
    query_time = verdict.measurements["query_time"]
    assert isinstance(query_time, float) and 0 <= query_time < 2


async def test_nxdomain_when_noerror_expected_fails_naming_the_rcode(
    server: DnsServer, ctx: ProbeContext
) -> None:
    verdict = await dns_probe.probe(spec_for(server, name="nope.example.org"), 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert "NXDOMAIN" in verdict.reason and "expected NOERROR" in verdict.reason
    assert verdict.measurements["rcode"] == "NXDOMAIN"


async def test_expected_nxdomain_passes(server: DnsServer, ctx: ProbeContext) -> None:
    spec = spec_for(server, name="nope.example.org", expect_rcode="NXDOMAIN")
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK


async def test_servfail_fails(server: DnsServer, ctx: ProbeContext) -> None:
    server.rcodes["www.example.org"] = "SERVFAIL"
    verdict = await dns_probe.probe(spec_for(server, name="www.example.org"), 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert "SERVFAIL" in verdict.reason


async def test_expected_answer_set_matches_in_any_spelling(
    server: DnsServer, ctx: ProbeContext
) -> None:
    spec = spec_for(
        server,
        name="example.org",
        type="MX",
        expect_answers=["20 backup.example.org", "10 mail.example.org."],
    )
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["answers"] == ["10 mail.example.org", "20 backup.example.org"]


async def test_ipv6_answers_compare_in_canonical_form(server: DnsServer, ctx: ProbeContext) -> None:
    spec = spec_for(server, name="v6.example.org", type="AAAA", expect_answers=["2001:DB8::1"])
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["answers"] == ["2001:db8::1"]


async def test_changed_answers_fail_and_name_the_difference(
    server: DnsServer, ctx: ProbeContext
) -> None:
    spec = spec_for(server, name="www.example.org", expect_answers=["192.0.2.1", "192.0.2.2"])
    assert (await dns_probe.probe(spec, 2, ctx, check_id="c")).outcome is Outcome.OK
    server.records[("www.example.org", "A")] = ["192.0.2.1", "203.0.113.66"]
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert "missing [192.0.2.2]" in verdict.reason
    assert "unexpected [203.0.113.66]" in verdict.reason
    assert verdict.measurements["answers"] == ["192.0.2.1", "203.0.113.66"]


async def test_every_answer_must_match_the_regex(server: DnsServer, ctx: ProbeContext) -> None:
    spec = spec_for(server, name="www.example.org", answer_regex=r"^192\.0\.2\.\d+$")
    assert (await dns_probe.probe(spec, 2, ctx, check_id="c")).outcome is Outcome.OK
    server.records[("www.example.org", "A")] = ["192.0.2.1", "10.0.0.1"]
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert "[10.0.0.1]" in verdict.reason and "192.0.2.1" not in verdict.reason


async def test_txt_answers_are_unquoted(server: DnsServer, ctx: ProbeContext) -> None:
    spec = spec_for(server, name="www.example.org", type="TXT", expect_answers=["v=spf1 -all"])
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["answers"] == ["v=spf1 -all"]


async def test_noerror_without_records_of_the_type_fails(
    server: DnsServer, ctx: ProbeContext
) -> None:
    spec = spec_for(server, name="www.example.org", type="MX")
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("no MX records for www.example.org")


async def test_silent_server_fails_within_the_timeout(server: DnsServer, ctx: ProbeContext) -> None:
    server.silent = True
    spec = spec_for(server, name="www.example.org")
    verdict = await dns_probe.probe(spec, 0.3, ctx, check_id="c")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == f"no answer from 127.0.0.1:{server.port} within 0.3s"


async def test_tcp_protocol_queries_over_tcp(server: DnsServer, ctx: ProbeContext) -> None:
    spec = spec_for(server, name="www.example.org", protocol="tcp")
    verdict = await dns_probe.probe(spec, 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK
    assert [proto for proto, _, _ in server.queries] == ["tcp"]


async def test_truncated_udp_answer_is_retried_over_tcp(
    server: DnsServer, ctx: ProbeContext
) -> None:
    server.truncate_udp = True
    verdict = await dns_probe.probe(spec_for(server, name="www.example.org"), 2, ctx, check_id="c")
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["answers"] == ["192.0.2.1", "192.0.2.2"]
    assert [proto for proto, _, _ in server.queries] == ["udp", "tcp"]
