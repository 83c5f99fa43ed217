"""HTTP probe against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import http, http_verdict
from checks.context import ProbeContext
from checks.http_clients import HttpClientPool
from checks.json_path import json_path
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import (
    HttpServer,
    Pki,
    RawServer,
    Reply,
    Request,
    days_from_now,
    drip,
    endless,
    never_answers,
    speaks_garbage,
    ticking,
)

TIMEOUT = 1.0


async def run(ctx: ProbeContext, timeout: float = TIMEOUT, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(**spec), timeout, ctx, check_id="svc/http")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- plain answers ---------------------------------------------------------------------------


async def test_2xx_answer_is_ok_with_status_latency_and_phases(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(204)}) as server:
        verdict = await run(ctx, url=server.url())
    assert verdict.outcome is Outcome.OK, verdict.reason
    m = verdict.measurements
    assert m["status_code"] == 204
    assert "body_bytes" not in m  # no body condition: the body is not read
    assert 0 < m["latency"] < TIMEOUT  # type: ignore[operator]
    assert 0 <= m["phase_connect"] < m["latency"]  # type: ignore[operator]
    assert "phase_processing" in m
    assert "phase_tls" not in m  # plain HTTP has no handshake


async def test_status_mismatch_fails_with_status_and_expectation(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(503, "busy")}) as server:
        verdict = await run(ctx, url=server.url(), expect_status=[200])
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "status 503, expected 200"
    assert verdict.measurements["status_code"] == 503


async def test_non_2xx_fails_when_no_status_is_expected(ctx: ProbeContext) -> None:
    async with HttpServer({}) as server:
        verdict = await run(ctx, url=server.url("/missing"))
    assert verdict.reason == "status 404, expected 2xx"


async def test_listed_non_2xx_status_is_accepted(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(401)}) as server:
        verdict = await run(ctx, url=server.url(), expect_status=[401, 403])
    assert verdict.outcome is Outcome.OK


async def test_method_headers_and_body_reach_the_server(ctx: ProbeContext) -> None:
    async with HttpServer({"/api": lambda _: Reply(201)}) as server:
        verdict = await run(
            ctx,
            url=server.url("/api"),
            method="POST",
            headers={"X-Probe": "vigia"},
            body='{"ping": 1}',
            expect_status=[201],
        )
        sent = server.requests[0]
    assert verdict.outcome is Outcome.OK
    assert (sent.method, sent.headers["x-probe"], sent.body) == ("POST", "vigia", b'{"ping": 1}')


async def test_connection_refused_fails_with_clear_reason(ctx: ProbeContext) -> None:
    verdict = await run(ctx, url=f"http://127.0.0.1:{free_port()}/")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "connection refused"


async def test_probes_open_a_connection_each_by_default(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:
        for _ in range(3):
            verdict = await run(ctx, url=server.url())
            assert verdict.outcome is Outcome.OK
            assert verdict.measurements["connection"] == "new"
            assert "phase_connect" in verdict.measurements
        assert server.connections == 3
        await asyncio.sleep(0.05)  # the probe's FIN reaches the server
        assert not server._writers  # every run closed its connection


async def test_probes_with_reuse_connection_share_one_keepalive_connection(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:
        seen = [(await run(ctx, url=server.url(), reuse_connection=True)) for _ in range(3)]
        assert server.connections == 1
    assert [v.measurements["connection"] for v in seen] == ["new", "reused", "reused"]
    assert "phase_connect" not in seen[2].measurements


# --- content expectations --------------------------------------------------------------------


PORTAL = "<html><title>Portal da Segurança Social</title></html>"


async def test_body_contains_matches_utf8_text(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, PORTAL)}) as server:
        verdict = await run(ctx, url=server.url(), body_contains="Segurança Social")
    assert verdict.outcome is Outcome.OK, verdict.reason


async def test_body_without_expected_text_fails_quoting_it(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "<html>Em manutenção</html>")}) as server:
        verdict = await run(ctx, url=server.url(), body_contains="Segurança Social")
    assert verdict.reason == "body does not contain 'Segurança Social'"


async def test_body_regex_mismatch_fails_showing_the_pattern(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "version: beta")}) as server:
        ok = await run(ctx, url=server.url(), body_regex=r"version: \w+")
        bad = await run(ctx, url=server.url(), body_regex=r"version: \d+")
    assert ok.outcome is Outcome.OK
    assert bad.reason == r"body does not match /version: \d+/"


HEALTH = {"status": "UP", "components": {"db": {"checks": [{"ok": True}, {"ok": False}]}}}


async def test_json_paths_equal_expected_values(ctx: ProbeContext) -> None:
    async with HttpServer({"/h": lambda _: Reply(200, json.dumps(HEALTH))}) as server:
        verdict = await run(
            ctx,
            url=server.url("/h"),
            json={"$.status": "UP", "$.components.db.checks[0].ok": True},
        )
    assert verdict.outcome is Outcome.OK, verdict.reason


async def test_json_value_mismatch_fails_with_found_and_expected(ctx: ProbeContext) -> None:
    async with HttpServer({"/h": lambda _: Reply(200, json.dumps(HEALTH))}) as server:
        verdict = await run(ctx, url=server.url("/h"), json={"$.components.db.checks[1].ok": True})
    assert verdict.reason == "JSON $.components.db.checks[1].ok is false, expected true"


async def test_json_missing_path_and_non_json_body_fail(ctx: ProbeContext) -> None:
    routes = {"/h": lambda _: Reply(200, json.dumps(HEALTH)), "/t": lambda _: Reply(200, "<p>")}
    async with HttpServer(routes) as server:
        missing = await run(ctx, url=server.url("/h"), json={"$.components.cache": "UP"})
        not_json = await run(ctx, url=server.url("/t"), json={"$.status": "UP"})
    assert missing.reason == "JSON $.components.cache: no 'cache' in dict"
    assert not_json.reason == "body is not JSON (starts '<p>')"


def test_json_path_does_not_confuse_true_with_one() -> None:
    assert http_verdict._json_equal(1, True) is False
    assert http_verdict._json_equal(1, 1.0) is True


def test_json_path_reads_quoted_keys_and_negative_indices() -> None:
    document = {"a b": [{"c": 1}, {"c": 2}]}
    assert json_path(document, "$['a b'][-1].c") == 2
    assert json_path(document, "$") == document
    with pytest.raises(LookupError, match="not a JSON path"):
        json_path(document, "$.a..b")


_keys = st.text(st.characters(blacklist_characters=".[]'\"", codec="utf-8"), min_size=1)


@given(st.lists(st.one_of(_keys, st.integers(0, 3)), max_size=6), st.integers())
def test_json_path_finds_any_value_nested_under_its_path(steps: list[Any], leaf: int) -> None:
    document: Any = leaf
    for step in reversed(steps):
        document = {step: document} if isinstance(step, str) else [None] * step + [document]
    path = "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
    assert json_path(document, path) == leaf


async def test_header_expectations_are_regexes(ctx: ProbeContext) -> None:
    headers = {"Strict-Transport-Security": "max-age=31536000"}
    async with HttpServer({"/": lambda _: Reply(200, headers=headers)}) as server:
        ok = await run(
            ctx, url=server.url(), expect_headers={"strict-transport-security": r"\d{7,}"}
        )
        bad = await run(ctx, url=server.url(), expect_headers={"Content-Type": "json"})
        gone = await run(ctx, url=server.url(), expect_headers={"X-Frame-Options": "DENY"})
    assert ok.outcome is Outcome.OK
    assert bad.reason == "header Content-Type is 'text/plain; charset=utf-8', expected /json/"
    assert gone.reason == "header X-Frame-Options missing"


async def test_static_page_reports_body_hash(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, PORTAL)}) as server:
        verdict = await run(ctx, url=server.url(), static=True)
    assert verdict.measurements["body_sha256"] == hashlib.sha256(PORTAL.encode()).hexdigest()


# --- latency, redirects, auth, size ------------------------------------------------------------


async def test_latency_over_limit_is_degraded_not_failed(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, delay=0.3)}) as server:
        slow = await run(ctx, url=server.url(), max_latency="100ms")
        fine = await run(ctx, url=server.url(), max_latency="2s")
    assert slow.outcome is Outcome.DEGRADED
    # the server waits 0.3 s; a loaded machine adds to it, never takes from it
    shown = re.fullmatch(r"latency (\d+\.\d+)s over 0\.1s", slow.reason)
    assert shown is not None and float(shown.group(1)) >= 0.3, slow.reason
    assert fine.outcome is Outcome.OK


def redirect_chain(length: int) -> dict[str, Any]:
    routes: dict[str, Any] = {f"/r{i}": _to(f"/r{i + 1}") for i in range(length)}
    routes[f"/r{length}"] = lambda _: Reply(200, "landed")
    return routes


def _to(location: str) -> Any:
    return lambda _: Reply(302, headers={"Location": location})


async def test_redirects_are_followed_up_to_the_spec_bound(ctx: ProbeContext) -> None:
    async with HttpServer(redirect_chain(3)) as server:
        within = await run(ctx, url=server.url("/r0"), max_redirects=3, body_contains="landed")
        beyond = await run(ctx, url=server.url("/r0"), max_redirects=2)
        unfollowed = await run(ctx, url=server.url("/r0"), follow_redirects=False)
    assert within.outcome is Outcome.OK, within.reason
    assert within.measurements["redirects"] == 3
    assert beyond.reason == "more than 2 redirects"
    assert unfollowed.reason == "status 302, expected 2xx"


def _needs_basic(request: Request) -> Reply:
    ok = (
        request.headers.get("authorization") == "Basic b3BzOnMzZ3IzZG8tbXVpdG8="
    )  # ops:s3gr3do-muito
    return Reply(500 if ok else 401, "internal error")


async def test_basic_auth_is_sent_and_password_never_reported(ctx: ProbeContext) -> None:
    async with HttpServer({"/": _needs_basic}) as server:
        auth = {"basic": {"username": "ops", "password": "s3gr3do-muito"}}
        verdict = await run(ctx, url=server.url(), auth=auth)
    assert verdict.reason == "status 500, expected 2xx"  # 500: the server accepted the password
    assert "s3gr3do" not in repr(verdict)


async def test_bearer_token_is_not_forwarded_to_another_origin(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as other:
        away = {"/": _to(other.url("/"))}
        async with HttpServer(away) as first:
            verdict = await run(ctx, url=first.url(), auth={"bearer": "t0ken-secreto"})
            assert first.requests[0].headers["authorization"] == "Bearer t0ken-secreto"
        assert verdict.outcome is Outcome.OK
        assert "authorization" not in other.requests[0].headers


async def test_bearer_token_follows_a_redirect_within_the_same_origin(ctx: ProbeContext) -> None:
    routes = {"/": _to("/next"), "/next": lambda _: Reply(200)}
    async with HttpServer(routes) as server:
        verdict = await run(ctx, url=server.url(), auth={"bearer": "t0ken-secreto"})
        assert verdict.outcome is Outcome.OK, verdict.reason
        assert [r.headers.get("authorization") for r in server.requests] == [
            "Bearer t0ken-secreto"
        ] * 2


def _redirect(status: int) -> Any:
    return lambda _: Reply(status, headers={"Location": "/landed"})


@pytest.mark.parametrize(
    ("status", "then"),
    [(303, "GET"), (302, "GET"), (301, "GET"), (307, "POST"), (308, "POST")],
)
async def test_a_redirected_post_becomes_a_get_or_is_repeated_as_browsers_do(
    ctx: ProbeContext, status: int, then: str
) -> None:
    routes = {"/form": _redirect(status), "/landed": lambda r: Reply(200, r.method)}
    async with HttpServer(routes) as server:
        verdict = await run(ctx, url=server.url("/form"), method="POST", body="a=1")
        landed = server.requests[1]
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert (landed.method, landed.body) == (then, b"a=1" if then == "POST" else b"")
    assert "content-length" not in landed.headers or then == "POST"


async def test_a_redirect_to_an_invalid_location_is_a_protocol_error(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(302, headers={"Location": "http://[::1"})}) as s:
        verdict = await run(ctx, url=s.url())
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("protocol error"), verdict.reason
    assert "invalid redirect location" in verdict.reason


async def test_cookies_set_on_a_redirect_go_with_the_chain_and_never_to_the_next_run(
    ctx: ProbeContext,
) -> None:
    # A login that sets its session on a 302 and wants it on the target: browsers, curl -L
    # and blackbox_exporter pass. The next run starts as a new visitor, with no cookie.
    cookie = {"Set-Cookie": "session=abc; Path=/"}
    routes = {
        "/": lambda _: Reply(302, headers={"Location": "/in", **cookie}),
        "/in": _needs_session,
    }
    async with HttpServer(routes) as server:
        first = await run(ctx, url=server.url())
        second = await run(ctx, url=server.url())
        sent = [r.headers.get("cookie") for r in server.requests]
    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.OK), first.reason
    assert sent == [None, "session=abc", None, "session=abc"]


def _needs_session(request: Request) -> Reply:
    if "session=abc" not in request.headers.get("cookie", ""):
        return Reply(400, "no session")
    return _ok(request)


async def test_chain_cookies_join_the_checks_own_and_follow_cookie_rules(
    ctx: ProbeContext,
) -> None:
    routes = {
        "/": lambda _: Reply(302, headers={"Location": "/a", "Set-Cookie": "s=1; Path=/"}),
        "/a": lambda _: Reply(
            302, headers={"Location": "/b/end", "Set-Cookie": "only_a=1; Path=/a"}
        ),
        "/b/end": lambda _: Reply(200, "ok"),
    }
    async with HttpServer(routes) as server:
        verdict = await run(ctx, url=server.url(), headers={"Cookie": "mine=7"})
        sent = [r.headers.get("cookie") for r in server.requests]
    assert verdict.outcome is Outcome.OK, verdict.reason
    # the check's own cookie on every hop of its origin, then the jar's for each path
    assert sent == ["mine=7", "mine=7; s=1", "mine=7; s=1"]


async def test_chain_cookies_of_one_host_do_not_go_to_another(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as other:
        away = other.url("/", host="localhost")  # another host: 127.0.0.1's cookies stay
        routes = {"/": lambda _: Reply(302, headers={"Location": away, "Set-Cookie": "s=1"})}
        async with HttpServer(routes) as first:
            verdict = await run(ctx, url=first.url(), headers={"Cookie": "mine=7"})
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert "cookie" not in other.requests[0].headers


def _ok(_: Request) -> Reply:
    return Reply(200, "ok", headers={"Set-Cookie": "other=1"})


async def test_requests_say_who_is_asking(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as server:
        await run(ctx, url=server.url(), headers={"X-Probe": "1"})
        sent = server.requests[0].headers
    assert sent["user-agent"].startswith("vigia/")
    assert (sent["x-probe"], sent["accept"]) == ("1", "*/*")


async def test_declared_body_over_cap_fails_without_reading_it(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "x" * 5000)}) as server:
        verdict = await run(ctx, url=server.url(), max_body_bytes=1000, body_contains="x")
    assert verdict.reason == "body larger than 1000 bytes (Content-Length 5000)"


async def test_endless_body_stops_at_the_cap(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, chunks=endless())}) as server:
        start = time.perf_counter()
        verdict = await run(ctx, url=server.url(), max_body_bytes=100_000, body_contains="x")
    assert verdict.reason == "body larger than 100000 bytes"
    assert 100_000 < verdict.measurements["body_bytes"] <= 100_000 + 16384  # type: ignore[operator]
    assert time.perf_counter() - start < TIMEOUT


# --- hostile servers: bounded by the timeout, loop stays responsive ------------------------------


async def assert_bounded(ctx: ProbeContext, url: str, reason: str, **spec: Any) -> None:
    async with ticking() as ticks:
        start = time.perf_counter()
        verdict = await run(ctx, url=url, **spec)
        elapsed = time.perf_counter() - start
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == reason
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + 1
    assert len(ticks) >= 10  # a 50 ms ticker kept running during the probe


async def test_server_that_never_answers_times_out_waiting_for_headers(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server:
        url = f"http://127.0.0.1:{server.port}/"
        await assert_bounded(ctx, url, "timed out after 1s waiting for the response headers")


async def test_dripping_headers_time_out(ctx: ProbeContext) -> None:
    async with RawServer(drip(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0.2)) as server:
        url = f"http://127.0.0.1:{server.port}/"
        await assert_bounded(ctx, url, "timed out after 1s waiting for the response headers")


async def test_dripping_body_times_out_while_reading_the_body(ctx: ProbeContext) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"

    async def slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        await drip(b"x" * 100, 0.25)(reader, writer)

    async with RawServer(slow_body) as server:
        url = f"http://127.0.0.1:{server.port}/"
        await assert_bounded(
            ctx, url, "timed out after 1s while reading the body", body_contains="x"
        )


async def test_slow_endless_body_times_out_under_a_large_cap(ctx: ProbeContext) -> None:
    reply = Reply(200, chunks=endless(b"y" * 1024, pause=0.01))
    async with HttpServer({"/": lambda _: reply}) as server:
        await assert_bounded(
            ctx,
            server.url(),
            "timed out after 1s while reading the body",
            max_body_bytes=10**9,
            body_contains="z",
        )


# --- HTTPS -----------------------------------------------------------------------------------


async def test_https_with_ca_bundle_is_ok_and_times_the_handshake(
    ctx: ProbeContext, pki: Pki
) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}, pki.server_context()) as server:
        verdict = await run(ctx, url=server.url(host="localhost"), ca_bundle=pki.ca_bundle)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["phase_tls"] > 0  # type: ignore[operator]


async def test_expired_certificate_fails_the_handshake(ctx: ProbeContext, pki: Pki) -> None:
    context = pki.server_context(not_after=days_from_now(-2))
    async with HttpServer({"/": lambda _: Reply(200)}, context) as server:
        verdict = await run(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
    assert verdict.reason == "TLS handshake failed: certificate has expired"


async def test_untrusted_issuer_fails_unless_verification_is_off(
    ctx: ProbeContext, pki: Pki
) -> None:
    import trustme

    context = pki.server_context(issuer=trustme.CA())
    async with HttpServer({"/": lambda _: Reply(200)}, context) as server:
        strict = await run(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
        lax = await run(ctx, url=server.url(), verify=False)
    assert strict.reason == "TLS handshake failed: unable to get local issuer certificate"
    assert lax.outcome is Outcome.OK


async def test_client_certificate_is_presented_when_configured(
    ctx: ProbeContext, pki: Pki, tmp_path: Path
) -> None:
    context = pki.server_context()
    context.verify_mode = ssl.CERT_REQUIRED
    pki.ca.configure_trust(context)
    client = pki.ca.issue_cert("probe@vigia")
    client.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "client.pem"))
    async with HttpServer({"/": lambda _: Reply(200)}, context) as server:
        cert = {"cert": str(tmp_path / "client.pem")}
        with_cert = await run(ctx, url=server.url(), ca_bundle=pki.ca_bundle, client_cert=cert)
        without = await run(ctx, url=server.url(), ca_bundle=pki.ca_bundle)
    assert with_cert.outcome is Outcome.OK, with_cert.reason
    assert without.outcome is Outcome.FAIL  # TLS 1.3 reports the refusal on the first read


async def test_garbage_instead_of_tls_fails_the_handshake_quickly(ctx: ProbeContext) -> None:
    async with RawServer(speaks_garbage) as server:
        start = time.perf_counter()
        verdict = await run(ctx, url=f"https://127.0.0.1:{server.port}/")
    assert verdict.reason.startswith("TLS handshake failed: ")
    assert time.perf_counter() - start < TIMEOUT


async def test_pool_shares_clients_per_origin_and_ssl_contexts_per_profile() -> None:
    pool = HttpClientPool()
    try:
        a = pool.lease(HttpSpec(url="https://a.example/"), "https://a.example/")
        a_again = pool.lease(
            HttpSpec(url="https://a.example/", method="POST"), "https://A.example/x"
        )
        b = pool.lease(HttpSpec(url="https://b.example/"), "https://b.example/")
        lax = pool.lease(HttpSpec(url="https://a.example/", verify=False), "https://a.example/")
        assert a is a_again and a is not b and a is not lax
        fresh = pool.fresh(HttpSpec(url="https://c.example/"))
        await fresh.aclose()
        assert len(pool) == 2  # two TLS profiles: the CA load happened twice, not per client
    finally:
        await pool.aclose()


async def test_the_answering_address_is_reported_and_checked_against_the_expected_ones(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:
        good = await run(ctx, url=server.url(), expect_addresses=["127.0.0.1"])
        bad = await run(ctx, url=server.url(), expect_addresses=["192.0.2.1"])
    assert good.measurements["remote_address"] == "127.0.0.1"
    assert good.measurements["address_expected"] is True
    assert bad.measurements["address_expected"] is False
    assert bad.outcome is Outcome.OK  # a SOC signal, not an outage


# --- body conditions that fail on a match ----------------------------------------------------


async def test_a_200_error_page_containing_the_forbidden_text_is_down(ctx: ProbeContext) -> None:
    page = "<h1>Erro</h1><p>could not connect to database</p>"
    async with HttpServer(
        {"/": lambda _: Reply(200, page), "/ok": lambda _: Reply(200, "fine")}
    ) as s:
        contains = await run(ctx, url=s.url(), body_not_contains="could not connect to database")
        regex = await run(ctx, url=s.url(), body_not_regex=r"could not connect to \w+")
        healthy = await run(ctx, url=s.url("/ok"), body_not_contains="could not connect")
    assert contains.outcome is Outcome.FAIL
    assert contains.reason == "body contains 'could not connect to database'"
    assert regex.reason == (
        r"body matches /could not connect to \w+/ ('could not connect to database')"
    )
    assert healthy.outcome is Outcome.OK, healthy.reason
    assert healthy.measurements["body_bytes"] == 4  # a body condition: the body is read


def test_a_bad_body_not_regex_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        HttpSpec(url="http://127.0.0.1/", body_not_regex="(unclosed")


async def test_require_tls_fails_a_chain_that_ends_on_plain_http(
    ctx: ProbeContext, pki: Pki
) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as plain:
        down = {"/": _to(plain.url("/"))}
        async with HttpServer(down, pki.server_context()) as secure:
            common: dict[str, Any] = {"url": secure.url(), "ca_bundle": pki.ca_bundle}
            downgraded = await run(ctx, require_tls=True, **common)
            unasked = await run(ctx, **common)
            plain_wanted = await run(ctx, url=plain.url(), require_tls=False)
            tls_unwanted = await run(
                ctx,
                url=secure.url("/x"),
                require_tls=False,
                ca_bundle=pki.ca_bundle,
                expect_status=[404],
            )
    assert downgraded.outcome is Outcome.FAIL
    assert downgraded.reason == f"downgrade: the chain ends on plain http ({plain.url('/')})"
    assert unasked.outcome is Outcome.OK, unasked.reason
    assert plain_wanted.outcome is Outcome.OK, plain_wanted.reason
    assert tls_unwanted.reason.startswith("the chain ends on https"), tls_unwanted.reason
