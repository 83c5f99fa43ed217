"""DNS probe: one query to one server, judged on its rcode and its answers.

The probe asks a server directly (the spec's resolver, or the first nameserver of the system
configuration) instead of going through a stub resolver, so the rcode it reports is the one the
server sent: a stub resolver turns NXDOMAIN and SERVFAIL into exceptions and retries elsewhere,
which hides exactly what the SOC wants to see.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.rrset

from checks import dns_rules
from checks.context import ProbeContext
from checks.ip_family import family_of, resolve
from checks.result import Measurement, Verdict
from checks.specs import DnsSpec, is_ip
from checks.tls_session import TlsFailed, client_context, handshake_reasons

_SHOWN = 5  # answers quoted in a reason before "..."


async def probe(spec: DnsSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    server = spec.resolver or await asyncio.to_thread(_system_nameserver, spec)
    if server is None:
        which = "" if spec.ip_family == "any" else f" {spec.ip_family}"
        return Verdict.unknown(
            f"no{which} system resolver configured (/etc/resolv.conf has no{which} nameserver)"
        )
    try:
        server, fell_back = await _address_of(server, spec, ctx)
    except OSError as exc:
        return Verdict.fail(f"resolver {server!r} has no address: {exc.strerror or exc}")
    where = _where(server, spec.server_port)
    query = dns.message.make_query(spec.name, spec.type)
    if not spec.recursion_desired:
        query.flags &= ~dns.flags.RD
    start = ctx.clock.monotonic()
    try:
        async with asyncio.timeout(timeout):
            response = await _ask(query, server, spec, timeout)
    except (TimeoutError, dns.exception.Timeout):
        return Verdict.fail(f"no answer from {where} within {timeout:g}s")
    except TlsFailed as exc:
        return Verdict.fail(f"DNS over TLS to {where}: {exc}")
    except (OSError, dns.exception.DNSException) as exc:
        return Verdict.fail(f"query to {where} failed: {type(exc).__name__}: {exc}")
    elapsed = max(0.0, ctx.clock.monotonic() - start)
    verdict = _judge(spec, response, where, elapsed)
    verdict.measurements["ip_family"] = family_of(server)
    if fell_back:
        verdict.measurements["ip_fallback"] = True
    return verdict


async def _ask(
    query: dns.message.Message, server: str, spec: DnsSpec, timeout: float
) -> dns.message.Message:
    port = spec.server_port
    if spec.protocol == "tcp":
        return await dns.asyncquery.tcp(query, server, timeout=timeout, port=port)
    if spec.protocol == "tls":
        return await _over_tls(query, server, spec, timeout)
    # A truncated UDP answer is retried over TCP, as a resolver would, so big TXT sets still work.
    response, _ = await dns.asyncquery.udp_with_fallback(query, server, timeout=timeout, port=port)
    return response


async def _over_tls(
    query: dns.message.Message, server: str, spec: DnsSpec, timeout: float
) -> dns.message.Message:
    """RFC 7858, strict profile: the resolver's certificate is verified against `server_name`
    (default: the resolver as written in the catalogue, a name or an address)."""
    with handshake_reasons():
        return await dns.asyncquery.tls(
            query,
            server,
            timeout=timeout,
            port=spec.server_port,
            ssl_context=client_context(spec.ca_bundle, True),
            server_hostname=spec.server_name or spec.resolver or server,
        )


async def _address_of(server: str, spec: DnsSpec, ctx: ProbeContext) -> tuple[str, bool]:
    """The resolver's address (`resolver: ns1.example` is resolved here) in the check's
    `ip_family` (checks/ip_family.py), and whether it is the fallback family's. DNS over TLS
    and over TCP go to the same address: the family is the resolver's, whatever the
    transport."""
    if is_ip(server) and spec.ip_family == "any":
        return server, False
    kind = socket.SOCK_DGRAM if spec.protocol == "udp" else socket.SOCK_STREAM
    port = spec.server_port
    choice = await resolve(server, port, spec.ip_family, spec.ip_fallback, ctx.resolve, kind)
    if not choice.addresses:
        raise OSError(f"{server} has no address")
    return str(choice.addresses[0][4][0]), choice.fell_back


def _system_nameserver(spec: DnsSpec) -> str | None:
    """The first nameserver of the system configuration, of the check's family if it has one
    (else, with `fallback`, the first of any family)."""
    try:
        nameservers = [str(n) for n in dns.resolver.Resolver().nameservers]
    except dns.resolver.NoResolverConfiguration:
        return None
    if spec.ip_family == "any" or not nameservers:
        return nameservers[0] if nameservers else None
    mine = [n for n in nameservers if family_of(n) == spec.ip_family]
    return mine[0] if mine else (nameservers[0] if spec.ip_fallback else None)


def _where(server: str, port: int) -> str:
    return f"[{server}]:{port}" if ":" in server else f"{server}:{port}"


def _judge(spec: DnsSpec, response: dns.message.Message, where: str, elapsed: float) -> Verdict:
    rdtype = dns.rdatatype.from_text(spec.type)
    rrsets = [rrset for rrset in response.answer if rrset.rdtype == rdtype]
    answers = sorted({normalise(rdtype, rdata_text(rdata)) for rrset in rrsets for rdata in rrset})
    rcode = dns.rcode.to_text(response.rcode())
    counts = dns_rules.counts(response)
    measurements: dict[str, Measurement] = {
        "answers": answers,
        "rcode": rcode,
        "ttl": min((rrset.ttl for rrset in rrsets), default=None),
        "query_time": elapsed,
        **{f"{section}_rrs": count for section, count in counts.items()},
    }
    reason = _mismatch(spec, rcode, answers, where) or _broken_rule(spec, response)
    if reason:
        return Verdict.fail(reason, **measurements)
    return Verdict.ok(**measurements)


def _mismatch(spec: DnsSpec, rcode: str, answers: list[str], where: str) -> str:
    asked = f"{spec.name} {spec.type}"
    if rcode not in spec.valid_rcodes:
        valid = " or ".join(spec.valid_rcodes)
        return f"rcode {rcode} for {asked} from {where} (expected {valid})"
    if spec.expect_answers is not None:
        rdtype = dns.rdatatype.from_text(spec.type)
        expected = sorted({normalise(rdtype, text) for text in spec.expect_answers})
        if answers != expected:
            return _difference(asked, answers, expected)
    elif rcode == "NOERROR" and not answers and _needs_answers(spec):
        # NOERROR with no record of the asked type (NODATA) is an outage for whoever needs it.
        return f"no {spec.type} records for {spec.name} from {where}"
    if spec.answer_regex is not None:
        if not answers:
            return f"no {spec.type} answers for {spec.name} to match /{spec.answer_regex}/"
        pattern = re.compile(spec.answer_regex)
        wrong = [answer for answer in answers if not pattern.search(answer)]
        if wrong:
            return f"{asked} answers {_quote(wrong)} do not match /{spec.answer_regex}/"
    return ""


def _needs_answers(spec: DnsSpec) -> bool:
    """NODATA fails unless the check says absence is fine (NXDOMAIN passes) or judges the
    sections itself (its record rules decide, as the exporter's do)."""
    rules = dns_rules.rules_of(spec).values()
    return "NXDOMAIN" not in spec.valid_rcodes and not any(r.configured for r in rules)


def _broken_rule(spec: DnsSpec, response: dns.message.Message) -> str:
    """The first record rule broken; no record is formatted for a check without rules."""
    for section, rules in dns_rules.rules_of(spec).items():
        if not rules.configured:
            continue
        records = dns_rules.record_texts(dns_rules.section(response, section))
        if broken := dns_rules.violation(section, records, rules):
            return f"{spec.name} {spec.type}: {broken}"
    return ""


def _difference(asked: str, answers: list[str], expected: list[str]) -> str:
    missing = [text for text in expected if text not in answers]
    extra = [text for text in answers if text not in expected]
    parts = []
    if missing:
        parts.append(f"missing {_quote(missing)}")
    if extra:
        parts.append(f"unexpected {_quote(extra)}")
    return f"{asked} answers differ from expected: {', '.join(parts)}"


def _quote(texts: list[str]) -> str:
    shown = ", ".join(texts[:_SHOWN])
    return f"[{shown}{', ...' if len(texts) > _SHOWN else ''}]"


def rdata_text(rdata: dns.rdata.Rdata) -> str:
    """Presentation form; TXT strings are joined and unquoted, as people write them."""
    strings = getattr(rdata, "strings", None)
    if rdata.rdtype == dns.rdatatype.TXT and strings is not None:
        return b"".join(strings).decode("utf-8", errors="replace")
    return str(rdata.to_text())


def normalise(rdtype: dns.rdatatype.RdataType, text: str) -> str:
    """One spelling per answer, so expected and received sets compare as the SOC means them.

    Addresses in canonical form (`0:0::1` is `::1`); names lower-case without the root dot;
    TXT left as written, since its case and spacing are data.
    """
    text = text.strip()
    if rdtype == dns.rdatatype.TXT:
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        return text
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            return ipaddress.ip_address(text).compressed
        except ValueError:
            return text
    tokens = [
        token[:-1] if token.endswith(".") and len(token) > 1 else token for token in text.split()
    ]
    return " ".join(tokens).lower()
