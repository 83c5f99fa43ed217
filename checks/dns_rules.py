"""blackbox_exporter's record rules on a DNS answer's sections, with reasons that quote the
record.

A record is matched in its text form, the exporter's (miekg/dns `RR.String()`): owner name
(absolute), TTL, class, type and data separated by tabs, e.g.
`www.example.org.\t300\tIN\tA\t192.0.2.1`, so a rule can pin the TTL
(`\t300\t`) as well as the data, and an exporter module's regexes carry over unchanged.
EDNS's OPT pseudo-record is not a record of the additional section here (dnspython keeps it
apart), so rules never see it.
"""

from __future__ import annotations

import re

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from checks.specs import DnsSpec, RecordRules

_SNIPPET = 100


def record_texts(rrsets: list[dns.rrset.RRset]) -> list[str]:
    return [
        "\t".join(
            (
                rrset.name.to_text(),
                str(rrset.ttl),
                dns.rdataclass.to_text(rrset.rdclass),
                dns.rdatatype.to_text(rrset.rdtype),
                rdata.to_text(),
            )
        )
        for rrset in rrsets
        for rdata in rrset
    ]


SECTIONS = ("answer", "authority", "additional")


def section(response: dns.message.Message, name: str) -> list[dns.rrset.RRset]:
    return list(getattr(response, name))


def counts(response: dns.message.Message) -> dict[str, int]:
    """Records per section (the exporter's probe_dns_*_rrs)."""
    return {name: sum(len(rrset) for rrset in section(response, name)) for name in SECTIONS}


def rules_of(spec: DnsSpec) -> dict[str, RecordRules]:
    return {
        "answer": spec.validate_answer_rrs,
        "authority": spec.validate_authority_rrs,
        "additional": spec.validate_additional_rrs,
    }


def violation(section: str, records: list[str], rules: RecordRules) -> str:
    """Why the section's records break the rules ('' when they do not), as the exporter
    judges: the first broken rule, in the exporter's order."""
    required = rules.fail_if_not_matches_regexp or rules.fail_if_none_matches_regexp
    if not records and required:
        return f"no {section} records to match /{required[0]}/"
    for pattern in rules.fail_if_matches_regexp:
        hit = next((r for r in records if re.search(pattern, r)), None)
        if hit is not None:
            return f"{section} record {_quote(hit)} matches /{pattern}/, which fails the probe"
    for pattern in rules.fail_if_not_matches_regexp:
        miss = next((r for r in records if not re.search(pattern, r)), None)
        if miss is not None:
            return f"{section} record {_quote(miss)} does not match /{pattern}/"
    for pattern in rules.fail_if_all_match_regexp:
        if records and all(re.search(pattern, r) for r in records):
            return f"every {section} record matches /{pattern}/, which fails the probe"
    for pattern in rules.fail_if_none_matches_regexp:
        if not any(re.search(pattern, r) for r in records):
            return f"no {section} record matches /{pattern}/ (of {len(records)})"
    return ""


def _quote(record: str) -> str:
    shown = record.replace("\t", " ")
    return repr(shown if len(shown) <= _SNIPPET else shown[: _SNIPPET - 1] + "…")
