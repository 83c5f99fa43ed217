"""TLS on the http probe (#17 option 6): `server_name`, `min_version`/`max_version`, the first
expiry over every redirect target's chain; and the tls check's `max_version`, on real
loopback servers with generated chains."""

from __future__ import annotations

import re
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from checks import http, tls
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec, TlsSpec
from tests.checks.loopback import (
    HttpServer,
    Pki,
    RawServer,
    Reply,
    chain_context,
)

RULES = Path(__file__).resolve().parents[2] / "alerting" / "rules.yaml"


async def get(ctx: ProbeContext, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(**spec), 2.0, ctx, check_id="svc/http")


def _recording_sni(context: ssl.SSLContext) -> list[str | None]:
    """The server names clients asked `context` for, in order."""
    seen: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    return seen


def _versions(context: ssl.SSLContext, low: ssl.TLSVersion, high: ssl.TLSVersion) -> None:
    with warnings.catch_warnings():  # the tests ask for TLS 1.0/1.1 on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = low
        context.maximum_version = high


# --- server_name -----------------------------------------------------------------------------


async def test_server_name_is_sent_as_sni_and_verified_instead_of_the_url_host(
    ctx: ProbeContext, pki: Pki
) -> None:
    context = pki.server_context("portal.internal")  # no SAN for 127.0.0.1
    asked = _recording_sni(context)
    async with HttpServer({"/": lambda _: Reply(200)}, context) as server:
        named = await get(
            ctx, url=server.url(), ca_bundle=pki.ca_bundle, server_name="portal.internal"
        )
        bare = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
    assert named.outcome is Outcome.OK, named.reason
    assert asked[0] == "portal.internal"
    assert bare.reason.startswith("TLS handshake failed: "), bare.reason
    assert "127.0.0.1" in bare.reason  # hostname mismatch, naming the address asked for


async def test_server_name_stays_with_its_host_across_a_redirect(
    ctx: ProbeContext, pki: Pki
) -> None:
    target_context = pki.server_context("localhost")
    asked_target = _recording_sni(target_context)
    async with HttpServer({"/end": lambda _: Reply(200)}, target_context) as target:
        end = target.url("/end", host="localhost")
        front = pki.server_context("portal.internal")
        async with HttpServer({"/": lambda _: Reply(302, headers={"Location": end})}, front) as s:
            verdict = await get(
                ctx, url=s.url(), ca_bundle=pki.ca_bundle, server_name="portal.internal"
            )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["redirects"] == 1
    assert asked_target == ["localhost"]  # the other host is asked by its own name


# --- min_version / max_version ---------------------------------------------------------------


async def test_http_min_and_max_version_bound_the_handshake(ctx: ProbeContext, pki: Pki) -> None:
    tls12 = pki.server_context(max_version=ssl.TLSVersion.TLSv1_2)
    async with HttpServer({"/": lambda _: Reply(200)}, tls12) as server:
        floor = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle, min_version="TLSv1.3")
        plain = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
    tls13 = pki.server_context()
    _versions(tls13, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    async with HttpServer({"/": lambda _: Reply(200)}, tls13) as server:
        capped = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle, max_version="TLSv1.2")
        modern = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
    assert floor.outcome is Outcome.FAIL and "TLS handshake" in floor.reason  # an alert or a reset
    assert (plain.outcome, plain.measurements["tls_version"]) == (Outcome.OK, "TLSv1.2")
    assert capped.outcome is Outcome.FAIL and "TLS handshake" in capped.reason
    assert (modern.outcome, modern.measurements["tls_version"]) == (Outcome.OK, "TLSv1.3")


async def test_http_can_be_told_to_accept_an_old_version(ctx: ProbeContext, pki: Pki) -> None:
    legacy = pki.server_context()
    _versions(legacy, ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_1)
    async with HttpServer({"/": lambda _: Reply(200)}, legacy) as server:
        default = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
        allowed = await get(ctx, url=server.url(), ca_bundle=pki.ca_bundle, min_version="TLSv1.1")
    assert default.outcome is Outcome.FAIL  # the system floor is TLS 1.2
    assert (allowed.outcome, allowed.measurements["tls_version"]) == (Outcome.OK, "TLSv1.1")


def test_a_max_version_below_the_min_version_is_refused_on_http() -> None:
    with pytest.raises(
        ValidationError, match=r"max_version TLSv1\.2 is below min_version TLSv1\.3"
    ):
        HttpSpec(url="https://x/", min_version="TLSv1.3", max_version="TLSv1.2")
    with pytest.raises(ValidationError, match="is not a host name"):
        HttpSpec(url="https://x/", server_name="not a name")


# --- chain expiry over the redirect chain ----------------------------------------------------


async def test_the_first_expiry_of_every_redirect_targets_chain_is_measured(
    ctx: ProbeContext, pki: Pki
) -> None:
    # the page that answers has a healthy chain; the front door that redirects to it serves
    # an intermediate expiring in 5 days: a browser's trip breaks in 5 days
    healthy = chain_context(pki, intermediate_days=400, leaf_days=60)
    async with HttpServer({"/end": lambda _: Reply(200)}, healthy) as target:
        end = target.url("/end", host="127.0.0.1")
        expiring = chain_context(pki, intermediate_days=5.5, leaf_days=60)
        async with HttpServer(
            {"/": lambda _: Reply(301, headers={"Location": end})}, expiring
        ) as front:
            chain = await get(ctx, url=front.url(host="localhost"), ca_bundle=pki.ca_bundle)
            final_only = await get(ctx, url=end, ca_bundle=pki.ca_bundle)
    m = chain.measurements
    assert chain.outcome is Outcome.OK, chain.reason
    assert (m["days_left"], m["expires_first_role"]) == (5, "intermediate")
    assert m["expires_first"] == "vigia test intermediate"
    assert m["expires_first_host"] == "localhost"  # the front door, not the final page
    assert m["chain_length"] == 2
    assert isinstance(m["not_after"], str) and m["not_after"].endswith("Z")
    assert final_only.measurements["days_left"] == 59  # the leaf, on its own
    assert final_only.measurements["expires_first_role"] == "leaf"


async def test_plain_http_measures_no_certificate(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as server:
        verdict = await get(ctx, url=server.url())
    assert "not_after" not in verdict.measurements
    assert "tls_version" not in verdict.measurements


# --- the tls check's max_version -------------------------------------------------------------


async def _hold(reader: Any, writer: Any) -> None:
    await reader.read(100)


def _rule(name: str) -> re.Pattern[str]:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["rules"]
    return re.compile(next(r for r in rules if r["name"] == name)["params"]["reason_matches"])


async def check_tls(ctx: ProbeContext, port: int, pki: Pki, **spec: Any) -> Verdict:
    full = TlsSpec(host="localhost", port=port, ca_bundle=pki.ca_bundle, **spec)
    return await tls.probe(full, 2.0, ctx, check_id="svc/tls")


async def test_a_server_still_accepting_tls_1_1_fails_the_below_policy_question(
    ctx: ProbeContext, pki: Pki
) -> None:
    legacy = pki.server_context()
    _versions(legacy, ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_3)
    async with RawServer(_hold, legacy) as server:
        verdict = await check_tls(ctx, server.port, pki, max_version="TLSv1.1")
        unasked = await check_tls(ctx, server.port, pki)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == (
        "server still accepts TLSv1.1 (offered up to TLSv1.1), policy requires TLSv1.2 or newer"
    )
    m = verdict.measurements
    assert m["accepts_below_policy"] is True and m["below_policy_version"] == "TLSv1.1"
    assert m["tls_version"] == "TLSv1.3"  # what a modern client negotiates
    assert isinstance(m["days_left"], int)  # the certificate was still read and judged
    assert _rule("TlsVersionBelowPolicy").search(verdict.reason)
    assert not _rule("CertificateInvalid").search(verdict.reason)
    # without max_version the negotiated TLS 1.3 hides the old versions: ok, as before
    assert unasked.outcome is Outcome.OK, unasked.reason


async def test_a_server_refusing_old_versions_passes_the_below_policy_question(
    ctx: ProbeContext, pki: Pki
) -> None:
    modern = pki.server_context()  # Python's server floor: TLS 1.2
    async with RawServer(_hold, modern) as server:
        verdict = await check_tls(ctx, server.port, pki, max_version="TLSv1.1")
        strict = await check_tls(
            ctx, server.port, pki, min_version="TLSv1.3", max_version="TLSv1.2"
        )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["accepts_below_policy"] is False
    assert strict.outcome is Outcome.FAIL  # it does accept TLS 1.2, under a 1.3 policy
    assert strict.reason.startswith("server still accepts TLSv1.2")


async def test_a_max_version_at_or_above_the_policy_caps_the_handshake(
    ctx: ProbeContext, pki: Pki
) -> None:
    tls13 = pki.server_context()
    _versions(tls13, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    async with RawServer(_hold, tls13) as server:
        capped = await check_tls(ctx, server.port, pki, max_version="TLSv1.2")
        open_ended = await check_tls(ctx, server.port, pki, max_version="TLSv1.3")
    # blackbox_exporter's tls_config.max_version: a TLS 1.3-only server fails a 1.2 client
    assert capped.outcome is Outcome.FAIL
    assert "accepts_below_policy" not in capped.measurements
    assert open_ended.outcome is Outcome.OK, open_ended.reason
