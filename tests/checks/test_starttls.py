"""STARTTLS on tcp and tls checks against real loopback SMTP, IMAP, POP3, FTP and LDAP servers
(tests/checks/starttls_servers.py) with trustme certificates, and TLS from the start on tcp."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

from checks import starttls, tcp, tls
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import DialogueStep, TcpSpec, TlsSpec
from tests.checks.loopback import (
    Pki,
    RawServer,
    chain_context,
    days_from_now,
    never_answers,
)
from tests.checks.starttls_servers import LDAP_STARTTLS_REQUEST, SERVERS, Behaviour

TIMEOUT = 2.0
PROTOCOLS = list(SERVERS)


def server(protocol: str, pki: Pki, behaviour: Behaviour, **cert: Any) -> RawServer:
    return RawServer(SERVERS[protocol](pki.server_context(**cert), behaviour))


async def tcp_check(port: int, ctx: ProbeContext, pki: Pki, **fields: Any) -> Verdict:
    spec = TcpSpec(
        host="127.0.0.1", port=port, server_name="localhost", ca_bundle=pki.ca_bundle, **fields
    )
    return await tcp.probe(spec, TIMEOUT, ctx, check_id="mail/tcp")


async def tls_check(port: int, ctx: ProbeContext, pki: Pki, **fields: Any) -> Verdict:
    spec = TlsSpec(
        host="127.0.0.1", port=port, server_name="localhost", ca_bundle=pki.ca_bundle, **fields
    )
    return await tls.probe(spec, TIMEOUT, ctx, check_id="mail/tls")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tcp_starttls_upgrades_and_reports_the_certificate(
    protocol: str, ctx: ProbeContext, pki: Pki
) -> None:
    behaviour = Behaviour()
    async with server(protocol, pki, behaviour, not_after=days_from_now(40.5)) as running:
        verdict = await tcp_check(running.port, ctx, pki, starttls=protocol)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert behaviour.upgraded == 1
    m = verdict.measurements
    assert m["days_left"] == 40 and m["expires_first_role"] == "leaf"
    assert m["tls_version"] == "TLSv1.3" and float(m["handshake_time"]) > 0  # type: ignore[arg-type]
    assert str(m["not_after"]).endswith("Z")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tls_check_starttls_watches_the_chains_first_expiry(
    protocol: str, ctx: ProbeContext, pki: Pki
) -> None:
    behaviour = Behaviour()
    context = chain_context(pki, intermediate_days=5.5, leaf_days=60)
    async with RawServer(SERVERS[protocol](context, behaviour)) as running:
        verdict = await tls_check(running.port, ctx, pki, starttls=protocol)
    assert verdict.outcome is Outcome.DEGRADED, verdict.reason
    assert verdict.reason.startswith("certificate expires in 5 days (intermediate ")
    assert verdict.measurements["verified"] is True
    assert verdict.measurements["expires_first_role"] == "intermediate"


def _accepting_tls_1_1(context: ssl.SSLContext) -> ssl.SSLContext:
    with warnings.catch_warnings():  # the test offers TLS 1.0/1.1 on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return context


@pytest.mark.parametrize("legacy", [True, False])
async def test_the_below_policy_question_is_asked_behind_starttls(
    legacy: bool, ctx: ProbeContext, pki: Pki
) -> None:
    """A mail relay's TLS 1.1 is only reachable after its STARTTLS: the second handshake of
    max_version below min_version goes through the same exchange on its own connection."""
    behaviour = Behaviour()
    context = pki.server_context()
    if legacy:
        _accepting_tls_1_1(context)
    async with RawServer(SERVERS["smtp"](context, behaviour)) as running:
        verdict = await tls_check(running.port, ctx, pki, starttls="smtp", max_version="TLSv1.1")
    assert behaviour.upgraded == 2  # the certificate look, then the below-policy question
    assert behaviour.seen.count(b"STARTTLS\r\n") == 2
    m = verdict.measurements
    assert m["tls_version"] == "TLSv1.3" and isinstance(m["days_left"], int)
    if legacy:
        assert verdict.reason == (
            "server still accepts TLSv1.1 (offered up to TLSv1.1), policy requires TLSv1.2 or newer"
        )
        assert m["accepts_below_policy"] is True and m["below_policy_version"] == "TLSv1.1"
    else:
        assert verdict.outcome is Outcome.OK, verdict.reason
        assert m["accepts_below_policy"] is False


async def test_the_ldap_request_is_the_rfc_4511_extended_request(
    ctx: ProbeContext, pki: Pki
) -> None:
    assert starttls.ldap_starttls_request() == LDAP_STARTTLS_REQUEST
    behaviour = Behaviour()
    async with server("ldap", pki, behaviour) as running:
        await tcp_check(running.port, ctx, pki, starttls="ldap")
    assert behaviour.seen == [LDAP_STARTTLS_REQUEST]


REFUSALS = {
    "smtp": "STARTTLS (smtp): STARTTLS refused, the server answered '454 4.7.0 TLS not "
    "available due to temporary reason'",
    "imap": "STARTTLS (imap): STARTTLS refused, the server answered 'V1 BAD command unknown "
    "or arguments invalid'",
    "pop3": "STARTTLS (pop3): STLS refused, the server answered '-ERR command not supported'",
    "ftp": "STARTTLS (ftp): AUTH TLS refused, the server answered '502 command not implemented'",
    "ldap": "STARTTLS (ldap) refused: resultCode 52 (unavailable) 'TLS is not configured'",
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_refused_starttls_fails_quoting_the_server(
    protocol: str, ctx: ProbeContext, pki: Pki
) -> None:
    async with server(protocol, pki, Behaviour(accept=False)) as running:
        on_tcp = await tcp_check(running.port, ctx, pki, starttls=protocol)
        on_tls = await tls_check(running.port, ctx, pki, starttls=protocol)
    assert on_tcp.outcome is Outcome.FAIL and on_tcp.reason == REFUSALS[protocol]
    assert on_tls.outcome is Outcome.FAIL and on_tls.reason == REFUSALS[protocol]


async def test_smtp_without_starttls_in_ehlo_fails_saying_so(ctx: ProbeContext, pki: Pki) -> None:
    behaviour = Behaviour(offer=False)
    async with server("smtp", pki, behaviour) as running:
        verdict = await tls_check(running.port, ctx, pki, starttls="smtp")
    assert verdict.reason == (
        "STARTTLS (smtp): the server does not offer STARTTLS "
        "(EHLO answered 4 line(s), the last '250 HELP')"
    )
    assert behaviour.seen[0] == b"EHLO vigia.probe\r\n" and len(behaviour.seen) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_data_injected_before_the_handshake_fails(
    protocol: str, ctx: ProbeContext, pki: Pki
) -> None:
    behaviour = Behaviour(inject=b"250 injected in the clear\r\n")
    async with server(protocol, pki, behaviour) as running:
        verdict = await tcp_check(running.port, ctx, pki, starttls=protocol)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith(
        f"STARTTLS ({protocol}): the server sent data after accepting TLS"
    )
    assert "injection" in verdict.reason


async def test_smtp_greeting_that_never_comes_times_out_naming_the_wait(
    ctx: ProbeContext, pki: Pki
) -> None:
    async with RawServer(never_answers) as running:
        spec = TlsSpec(host="127.0.0.1", port=running.port, starttls="smtp")
        verdict = await tls.probe(spec, 0.3, ctx, check_id="mail/tls")
    assert verdict.reason == (
        "timed out after 0.3s during the SMTP STARTTLS exchange (waiting for the greeting)"
    )


async def test_an_untrusted_certificate_after_starttls_fails_on_tcp(
    ctx: ProbeContext, pki: Pki, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = Pki(tmp_path / "other")  # a CA the probe does not trust
    async with server("smtp", other, Behaviour()) as running:
        verdict = await tcp_check(running.port, ctx, pki, starttls="smtp")
        unverified = await tcp.probe(
            TcpSpec(host="127.0.0.1", port=running.port, starttls="smtp", verify=False),
            TIMEOUT,
            ctx,
            check_id="mail/tcp",
        )
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("certificate verification failed: ")
    assert unverified.outcome is Outcome.OK, unverified.reason
    assert "days_left" in unverified.measurements


async def test_smtp_dialogue_continues_over_tls_after_starttls(ctx: ProbeContext, pki: Pki) -> None:
    behaviour = Behaviour()
    async with server("smtp", pki, behaviour) as running:
        verdict = await tcp_check(
            running.port,
            ctx,
            pki,
            starttls="smtp",
            steps=[{"send": "EHLO probe\r\n"}, {"expect": "^250 HELP"}, {"send": "QUIT\r\n"}],
        )
    assert verdict.outcome is Outcome.OK, verdict.reason
    # the second EHLO came over the TLS session (the server read it after its handshake)
    assert behaviour.seen[:3] == [b"EHLO vigia.probe\r\n", b"STARTTLS\r\n", b"EHLO probe\r\n"]


async def test_tls_from_the_start_on_tcp(ctx: ProbeContext, pki: Pki) -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK secure IMAP ready\r\n")
        await writer.drain()
        await reader.read(1)

    context = pki.server_context(not_after=days_from_now(12.5))
    async with RawServer(banner, context) as running:
        verdict = await tcp_check(running.port, ctx, pki, tls=True, steps=[{"expect": "^\\* OK"}])
        plain = await tcp.probe(
            TcpSpec(host="127.0.0.1", port=running.port, steps=[DialogueStep(expect="^\\* OK")]),
            0.5,
            ctx,
            check_id="imap/tcp",
        )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["days_left"] == 12
    assert plain.outcome is Outcome.FAIL  # the same port without TLS hears no banner


@pytest.mark.parametrize(
    ("service", "check", "protocol"),
    [("email", "tcp", "smtp"), ("email", "smtp-certificado", "smtp"),
     ("active-directory", "ldap-starttls", "ldap")],
)  # fmt: skip
async def test_the_shipped_mail_relay_and_directory_checks_work_on_real_exchanges(
    service: str, check: str, protocol: str, ctx: ProbeContext, pki: Pki
) -> None:
    """The shipped catalogue's checks, aimed at loopback servers instead of the placeholders."""
    from agent.catalog.loader import load
    from tests.catalog.test_shipped import SHIPPED

    shipped = {c.name: c.spec for c in load(SHIPPED, environ={}).by_id[service].checks}[check]
    behaviour = Behaviour()
    async with server(protocol, pki, behaviour, not_after=days_from_now(90)) as running:
        aimed = shipped.model_copy(
            update={
                "host": "127.0.0.1",
                "port": running.port,
                "server_name": "localhost",
                "ca_bundle": pki.ca_bundle,
            }
        )
        probe = tcp.probe if isinstance(aimed, TcpSpec) else tls.probe
        verdict = await probe(aimed, TIMEOUT, ctx, check_id=f"{service}/{check}")  # type: ignore[arg-type]
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["days_left"] == 89
