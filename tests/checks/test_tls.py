"""TLS probe against real TLS servers on 127.0.0.1 with trustme certificates."""

from __future__ import annotations

import hashlib
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from checks import tls
from checks.clock import ManualClock
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import TlsSpec
from tests.checks.loopback import (
    Pki,
    RawServer,
    chain_context,
    days_from_now,
    never_answers,
    speaks_garbage,
    ticking,
)

TIMEOUT = 1.0


async def serve_tls(reader: Any, writer: Any) -> None:
    await reader.read(1)  # hold the connection until the probe hangs up


async def check(ctx: ProbeContext, server: RawServer, pki: Pki | None, **spec: Any) -> Verdict:
    fields: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "server_name": "localhost"}
    if pki is not None:
        fields["ca_bundle"] = pki.ca_bundle
    return await tls.probe(TlsSpec(**(fields | spec)), TIMEOUT, ctx, check_id="svc/tls")


async def test_valid_certificate_is_ok_with_soc_measurements(ctx: ProbeContext, pki: Pki) -> None:
    async with RawServer(serve_tls, pki.server_context(not_after=days_from_now(90.5))) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.outcome is Outcome.OK, verdict.reason
    m = verdict.measurements
    assert m["days_left"] == 90
    assert m["verified"] is True
    assert m["tls_version"] == "TLSv1.3" and m["cipher"]
    assert "localhost" not in str(m["issuer"]) and str(m["issuer"]) != ""
    assert str(m["not_after"]).endswith("Z") and len(str(m["fingerprint_sha256"])) == 64
    assert int(str(m["serial"]), 16) > 0


async def test_expired_certificate_fails_with_days_in_reason(ctx: ProbeContext, pki: Pki) -> None:
    async with RawServer(serve_tls, pki.server_context(not_after=days_from_now(-3.5))) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("certificate expired 3 days ago (not after 20")
    assert verdict.measurements["days_left"] == -4  # floor of -3.5
    assert verdict.measurements["verified"] is False


async def test_certificate_close_to_expiry_is_degraded(ctx: ProbeContext, pki: Pki) -> None:
    async with RawServer(serve_tls, pki.server_context(not_after=days_from_now(5.5))) as server:
        verdict = await check(ctx, server, pki, min_days=21)
    assert verdict.outcome is Outcome.DEGRADED
    assert verdict.reason.startswith("certificate expires in 5 days (not after ")
    assert verdict.reason.endswith("under 21 days")


async def test_expiry_is_judged_on_the_injected_clock(pki: Pki) -> None:
    far_future = ManualClock(datetime(2999, 1, 1, tzinfo=UTC))
    ctx = ProbeContext(http=None, heartbeats=None, clock=far_future)  # type: ignore[arg-type]
    async with RawServer(serve_tls, pki.server_context(not_after=days_from_now(90))) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.outcome is Outcome.FAIL and "expired" in verdict.reason


async def test_wrong_host_fails_but_still_reports_the_certificate(
    ctx: ProbeContext, pki: Pki
) -> None:
    async with RawServer(serve_tls, pki.server_context("portal.example")) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.reason == (
        "certificate verification failed: Hostname mismatch, certificate is not valid for "
        "'localhost'"
    )
    assert verdict.measurements["subject"] != "" and verdict.measurements["days_left"] is not None


async def test_untrusted_issuer_fails_with_its_details_measured(
    ctx: ProbeContext, pki: Pki
) -> None:
    stranger = trustme.CA(organization_name="Stranger Ltd")
    async with RawServer(serve_tls, pki.server_context(issuer=stranger)) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.reason == (
        "certificate verification failed: unable to get local issuer certificate"
    )
    assert "Stranger Ltd" in str(verdict.measurements["issuer"])


async def test_system_trust_rejects_a_private_ca(ctx: ProbeContext, pki: Pki) -> None:
    async with RawServer(serve_tls, pki.server_context()) as server:
        verdict = await check(ctx, server, None)  # no ca_bundle: system CAs only
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("certificate verification failed: ")


async def test_pinned_fingerprint_match_passes_and_mismatch_fails(
    ctx: ProbeContext, pki: Pki
) -> None:
    async with RawServer(serve_tls, pki.server_context()) as server:
        first = await check(ctx, server, pki)
        actual = str(first.measurements["fingerprint_sha256"])
        colons = ":".join(actual[i : i + 2] for i in range(0, 64, 2)).upper()
        pinned = await check(ctx, server, pki, fingerprint_sha256=colons)
        wrong = await check(ctx, server, pki, fingerprint_sha256="ab" * 32)
    assert pinned.outcome is Outcome.OK, pinned.reason
    assert wrong.reason == (
        f"certificate fingerprint {actual[:16]}… does not match the pin abababababababab…"
    )


async def test_fingerprint_is_sha256_of_the_leaf_der(ctx: ProbeContext, pki: Pki) -> None:
    leaf = pki.ca.issue_cert("localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    pem = leaf.cert_chain_pems[0].bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    async with RawServer(serve_tls, context) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.measurements["fingerprint_sha256"] == hashlib.sha256(der).hexdigest()


async def test_tls12_server_fails_a_tls13_minimum(ctx: ProbeContext, pki: Pki) -> None:
    context = pki.server_context(max_version=ssl.TLSVersion.TLSv1_2)
    async with RawServer(serve_tls, context) as server:
        strict = await check(ctx, server, pki, min_version="TLSv1.3")
        default = await check(ctx, server, pki)
    assert strict.reason == "negotiated TLSv1.2, policy requires TLSv1.3 or newer"
    assert strict.measurements["tls_version"] == "TLSv1.2"
    assert default.outcome is Outcome.OK, default.reason


async def test_garbage_instead_of_tls_fails_within_timeout(ctx: ProbeContext) -> None:
    async with RawServer(speaks_garbage) as server, ticking() as ticks:
        start = time.perf_counter()
        verdict = await check(ctx, server, None)
        elapsed = time.perf_counter() - start
    assert verdict.reason == "TLS handshake failed: wrong version number"
    assert elapsed < TIMEOUT + 1 and len(ticks) >= 1


async def test_silent_peer_times_out_during_the_handshake(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server, ticking() as ticks:
        start = time.perf_counter()
        verdict = await check(ctx, server, None)
        elapsed = time.perf_counter() - start
    assert verdict.reason == "timed out after 1s during the TLS handshake"
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + 1
    assert len(ticks) >= 10


async def test_closed_port_is_refused(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server:
        port = server.port
    verdict = await tls.probe(TlsSpec(host="127.0.0.1", port=port), TIMEOUT, ctx, check_id="s/t")
    assert verdict.reason == "connection refused"


# --- the chain's first expiry ------------------------------------------------------------------


async def test_an_intermediate_expiring_first_is_the_expiry_and_is_named(
    ctx: ProbeContext, pki: Pki
) -> None:
    # the leaf is valid for 60 days, the intermediate the server presents for 5: in 5 days
    # every client fails, so 5 days is what the probe, the alerts and the metric say
    context = chain_context(pki, intermediate_days=5.5, leaf_days=60)
    async with RawServer(serve_tls, context) as server:
        verdict = await check(ctx, server, pki, min_days=21)
    assert verdict.outcome is Outcome.DEGRADED, verdict.reason
    m = verdict.measurements
    assert m["verified"] is True
    assert m["days_left"] == 5
    assert (m["expires_first"], m["expires_first_role"]) == (
        "vigia test intermediate",
        "intermediate",
    )
    assert m["chain_length"] == 2  # the trusted root the server did not send does not count
    assert str(m["not_after"]) < str(m["leaf_not_after"])
    assert verdict.reason.startswith(
        "certificate expires in 5 days (intermediate 'vigia test intermediate', not after "
    )


async def test_an_expired_intermediate_fails_and_is_named(ctx: ProbeContext, pki: Pki) -> None:
    context = chain_context(pki, intermediate_days=-1.5, leaf_days=60)
    async with RawServer(serve_tls, context) as server:
        verdict = await check(ctx, server, pki)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith(
        "certificate expired 1 day ago (intermediate 'vigia test intermediate', not after "
    ), verdict.reason
    assert verdict.measurements["verified"] is False
    assert verdict.measurements["days_left"] == -2


async def test_a_leaf_expiring_before_its_intermediate_is_the_expiry(
    ctx: ProbeContext, pki: Pki
) -> None:
    context = chain_context(pki, intermediate_days=400, leaf_days=10.5)
    async with RawServer(serve_tls, context) as server:
        verdict = await check(ctx, server, pki, min_days=21)
    m = verdict.measurements
    assert (m["days_left"], m["expires_first"], m["expires_first_role"]) == (
        10,
        "localhost",
        "leaf",
    )
    assert m["not_after"] == m["leaf_not_after"]
    assert verdict.reason.startswith("certificate expires in 10 days (not after ")
