"""The syslog receiver against real loopback UDP and TCP listeners, parsing what arrives."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.errors import TransientDeliveryError
from alerting.notification import AlertStatus
from alerting.receivers.syslog import SyslogReceiver, format_message, sd_value
from tests.alerting.servers import (
    T0,
    SyslogTcp,
    SyslogUdp,
    free_port,
    notification,
    wait_for,
    with_label,
)

# RFC 5424: HEADER SP STRUCTURED-DATA [SP MSG]
RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+) "
    rb"(?P<sd>(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$",
    re.DOTALL,
)
SD_ELEMENT = re.compile(r'\[(\S+)((?: [^=\s\]"]+="(?:[^"\\]|\\.)*")*)\]')
SD_PARAM = re.compile(r' ([^=\s\]"]+)="((?:[^"\\]|\\.)*)"')


def parse(message: bytes) -> dict[str, object]:
    match = RFC5424.match(message)
    assert match, message
    fields: dict[str, object] = {k: v.decode() for k, v in match.groupdict(b"").items()}
    elements = {}
    for sd_id, params in SD_ELEMENT.findall(str(fields["sd"])):
        elements[sd_id] = {
            name: re.sub(r"\\(.)", r"\1", value) for name, value in SD_PARAM.findall(params)
        }
    fields["sd"] = elements
    return fields


def _receiver(port: int, protocol: str) -> SyslogReceiver:
    return SyslogReceiver(
        "siem",
        host="127.0.0.1",
        port=port,
        protocol=protocol,  # type: ignore[arg-type]
        facility=16,
        hostname="agent01",
        now=lambda: T0,
    )


async def test_udp_datagrams_are_rfc5424_with_the_labels_as_structured_data() -> None:
    listener = await SyslogUdp().start()
    try:
        await _receiver(listener.port, "udp").send([notification(team="soc")])
        (message,) = await wait_for(listener.messages, 1)
    finally:
        listener.close()
    fields = parse(message)
    assert fields["pri"] == str(16 * 8 + 2)  # local0.crit
    assert (fields["ts"], fields["host"], fields["app"], fields["msgid"]) == (
        "2024-06-10T06:00:00.000000Z",
        "agent01",
        "vigia",
        "FIRING",
    )
    sd = fields["sd"]
    assert isinstance(sd, dict)
    assert sd["labels@32473"] == notification(team="soc").labels
    assert sd["alert@32473"]["id"] == "service-down:portal"
    assert sd["alert@32473"]["startsAt"] == "2024-06-10T06:00:00Z"
    assert fields["msg"] == "portal is down"


def test_the_idempotency_key_and_sequence_are_structured_data() -> None:
    """Delivery is at least once: the SIEM drops a repeated key."""
    sent = dataclasses.replace(notification(), sequence=3)
    once, again = (
        parse(format_message(sent, facility=16, hostname="h", app_name="vigia", procid="1",
                             timestamp=T0 + timedelta(seconds=s)))
        for s in (0, 30)
    )  # fmt: skip
    for fields in (once, again):
        alert = fields["sd"]["alert@32473"]  # type: ignore[index]
        assert alert["idempotencyKey"] == sent.idempotency_key and alert["sequence"] == "3"


async def test_tcp_uses_octet_counting_frames_one_per_notification() -> None:
    listener = await SyslogTcp().start()
    resolved = notification(
        status=AlertStatus.RESOLVED, ends_at=T0 + timedelta(minutes=7), duration_seconds=420
    )
    try:
        await _receiver(listener.port, "tcp").send([notification(), resolved])
        first, second = await wait_for(listener.messages, 2)
    finally:
        await listener.close()
    assert parse(first)["msgid"] == "FIRING"
    closing = parse(second)
    assert closing["pri"] == str(16 * 8 + 5)  # a resolution is a notice
    assert closing["msgid"] == "RESOLVED"
    sd = closing["sd"]
    assert isinstance(sd, dict)
    assert sd["alert@32473"]["durationSeconds"] == "420"
    assert sd["alert@32473"]["endsAt"] == "2024-06-10T06:07:00Z"


async def test_quotes_backslashes_and_brackets_in_labels_are_escaped() -> None:
    nasty = 'a"b\\c]d ção'
    listener = await SyslogTcp().start()
    try:
        await _receiver(listener.port, "tcp").send([notification(detail=nasty)])
        (message,) = await wait_for(listener.messages, 1)
    finally:
        await listener.close()
    assert b'detail="a\\"b\\\\c\\]d \xc3\xa7\xc3\xa3o"' in message
    sd = parse(message)["sd"]
    assert isinstance(sd, dict) and sd["labels@32473"]["detail"] == nasty


def test_header_fields_and_sd_names_stay_within_the_grammar() -> None:
    n = with_label(notification(), "weird name=x", "v")
    message = format_message(
        n, facility=4, hostname="host with spaces", app_name="", procid="1", timestamp=T0
    )
    fields = parse(message)
    assert (fields["host"], fields["app"]) == ("host_with_spaces", "-")
    sd = fields["sd"]
    assert isinstance(sd, dict) and sd["labels@32473"]["weird_name_x"] == "v"
    assert sd_value('x"]\\') == 'x\\"\\]\\\\'


@pytest.mark.parametrize(("severity", "expected"), [("warning", 4), ("info", 6), ("odd", 4)])
def test_pri_follows_the_alert_severity(severity: str, expected: int) -> None:
    message = format_message(
        notification(severity=severity),
        facility=1,
        hostname="h",
        app_name="vigia",
        procid="1",
        timestamp=T0,
    )
    assert parse(message)["pri"] == str(8 + expected)


async def test_a_refused_tcp_connection_is_transient_and_delivery_works_once_it_listens() -> None:
    port = free_port()
    receiver = _receiver(port, "tcp")
    with pytest.raises(TransientDeliveryError, match=r"syslog tcp://127\.0\.0\.1"):
        await receiver.send([notification()])
    listener = await SyslogTcp().start(port)
    try:
        await receiver.send([notification()])
        await wait_for(listener.messages, 1)
    finally:
        await listener.close()


@settings(max_examples=200, deadline=None)
@given(
    labels=st.dictionaries(
        st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,31}", fullmatch=True),
        st.text(st.characters(exclude_categories=["Cs"])),
        max_size=6,
    )
)
def test_any_label_values_survive_escaping_and_parsing(labels: dict[str, str]) -> None:
    base = notification()
    n = dataclasses.replace(base, labels=labels)
    message = format_message(
        n, facility=16, hostname="h", app_name="vigia", procid="1", timestamp=T0
    )
    sd = parse(message)["sd"]
    assert isinstance(sd, dict) and sd.get("labels@32473", {}) == labels
