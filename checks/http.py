"""HTTP(S) probe: one request (plus bounded redirects) judged against the spec's expectations.

The whole probe, body included, runs under one deadline, so a server that drips bytes or
never ends its body cannot hold a probe longer than its timeout. Its parts: the run's state
(http_run), its requests (http_request), phase timings and TLS chains (http_trace), the verdict
on the answer (http_verdict), the words for a transport error (http_errors).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from checks import oauth2
from checks.context import ProbeContext
from checks.http_clients import ProbeConnections
from checks.http_cookies import ChainCookies, sets_cookies
from checks.http_errors import describe_error, proxy_reason
from checks.http_proxy import shown
from checks.http_request import first_request, redirect_request
from checks.http_run import Failed, Fetched, Run
from checks.http_verdict import judge
from checks.result import Verdict
from checks.specs import HttpSpec, OAuth2


async def probe(spec: HttpSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    run = Run(spec, ctx.clock.now)
    connections = ctx.http.open(spec)
    try:
        async with asyncio.timeout(timeout):
            verdict, _ = await exchange(run, connections, ctx, check_id)
    except (TimeoutError, httpx.TimeoutException):
        return Verdict.fail(f"timed out after {timeout:g}s {run.trace.phase}", **run.measured())
    finally:
        await connections.aclose()  # a fresh run's connection dies with it
    return verdict


async def exchange(
    run: Run, connections: ProbeConnections, ctx: ProbeContext, check_id: str
) -> tuple[Verdict, Fetched | None]:
    """The request of `run` (its token first, its redirects after) and its verdict, with the
    answer when one came. The caller bounds it with its deadline (a timeout raises)."""
    spec = run.spec
    try:
        if spec.auth is not None and spec.auth.oauth2 is not None:
            token = _TokenStep(spec.auth.oauth2, ctx, oauth2.cache_key(check_id, spec.auth.oauth2))
            fetched = await _fetch_with_token(connections, run, token)
        else:
            fetched = await _fetch(connections, run)
    except httpx.TimeoutException:
        raise
    except (Failed, oauth2.TokenFailure) as failed:
        return Verdict.fail(str(failed), **run.measured()), None
    except httpx.HTTPError as exc:
        reason = describe_error(exc, run.trace.phase)
        if run.via is not None:
            reason = proxy_reason(exc, reason, run.via)
        return Verdict.fail(reason, **run.measured()), None
    verdict = judge(spec, fetched, run)
    if run.via is not None and verdict.reason:
        verdict = dataclasses.replace(
            verdict, reason=f"{verdict.reason} (via proxy {shown(run.via)})"
        )
    return verdict, fetched


@dataclass(slots=True)
class _TokenStep:
    config: OAuth2
    ctx: ProbeContext
    key: oauth2.Key


async def _fetch_with_token(connections: ProbeConnections, run: Run, token: _TokenStep) -> Fetched:
    """The request with the check's OAuth2 token; a cached token the API refuses (401: revoked,
    or the provider restarted) is dropped and the request made once more with a new one."""
    cached = await _token(connections, run, token)
    fetched = await _fetch(connections, run)
    if fetched.response.status_code == 401 and cached:
        token.ctx.tokens.drop(token.key)
        await _token(connections, run, token)
        run.measurements["token"] = "renewed"
        fetched = await _fetch(connections, run)
    return fetched


async def _token(connections: ProbeConnections, run: Run, token: _TokenStep) -> bool:
    """Set the run's bearer; whether it came from the cache."""
    config = token.config
    started = time.perf_counter()
    run.trace.phase = "during the OAuth2 token request"

    async def send(request: httpx.Request) -> httpx.Response:
        try:
            return await connections.for_url(config.token_url).handle_async_request(request)
        except httpx.HTTPError as exc:
            reason = describe_error(exc, "in the token step")
            raise oauth2.TokenFailure(f"{oauth2.step_name(config)}: {reason}") from None

    clock = token.ctx.clock
    run.bearer, cached = await oauth2.bearer(
        token.ctx.tokens, token.key, config, send, clock.monotonic
    )
    run.measurements["token"] = "cached" if cached else "new"
    if not cached:
        run.trace.phases["phase_token"] = time.perf_counter() - started
    run.trace.phase = "waiting for a connection"
    return cached


async def _fetch(connections: ProbeConnections, run: Run) -> Fetched:
    request = first_request(run)
    redirects = 0
    # a scenario's session jar sends and keeps every cookie; a single check's is built at the
    # first redirect that sets a cookie, and only what redirects set goes with the next hop
    cookies = session = run.cookies
    if session is not None:
        session.start_step(request)
    while True:
        response = await _send(connections, request, run)
        response.request = request
        try:
            run.measurements["status_code"] = response.status_code
            _note_address(response, run)
            follow = run.spec.follow_redirects
            next_request = redirect_request(request, response) if follow else None
            if session is not None:
                session.keep(response)
            if next_request is None:
                if run.read_body:
                    return Fetched(response, await _read_body(response, run), redirects)
                if run.keep_connection:
                    await _drain(response)
                return Fetched(response, b"", redirects)
            redirects += 1
            if redirects > run.spec.max_redirects:
                raise Failed(f"more than {run.spec.max_redirects} redirects")
            if cookies is None and sets_cookies(response):
                cookies = ChainCookies(request)
            if cookies is not None:
                if session is None:
                    cookies.keep(response)
                cookies.send_with(next_request)
            request = next_request
        finally:
            await response.aclose()


# RFC 9110 9.2.2: a client may repeat these automatically; a POST may have been acted on.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT"})
# What a kept-alive connection the server closed under the request raises before any answer.
_DIED_UNDER_US = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def _send(connections: ProbeConnections, request: httpx.Request, run: Run) -> httpx.Response:
    """One request of the chain. On a kept-alive connection that dies before any byte of the
    answer (the server closed it as the request left: the race of every keep-alive client),
    the request is repeated once on a new connection, and the run says so."""
    opened = run.trace.connects
    if run.spec.proxy is not None:
        run.via = connections.proxy_for(request.url)
        run.trace.proxy_host = _tls_host(run.via)
    try:
        response = await connections.for_url(request.url).handle_async_request(request)
    except _DIED_UNDER_US as died:
        reused = run.trace.connects == opened
        if not (reused and request.method in _IDEMPOTENT and _no_answer(died)):
            raise
        run.connection = "retried"
        return await connections.retry_transport(request.url).handle_async_request(request)
    if run.connection is None:
        run.connection = "new" if run.trace.connects > opened else "reused"
    return response


def _tls_host(proxy: str | None) -> str | None:
    parts = urlsplit(proxy) if proxy is not None else None
    return parts.hostname if parts is not None and parts.scheme.lower() == "https" else None


def _no_answer(error: httpx.HTTPError) -> bool:
    # httpcore's words for an end of stream before the status line; a reset or a failed write
    # on a kept-alive connection come before the answer too (it returns at the headers)
    return not isinstance(error, httpx.RemoteProtocolError) or "without sending" in str(error)


# A kept-alive connection is reusable only once its answer was read to the end: a small body
# is read (and dropped) for that, a larger one ends the connection instead.
DRAIN_BYTES = 65_536


async def _drain(response: httpx.Response) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_BYTES:
        return
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > DRAIN_BYTES:
            return


async def _read_body(response: httpx.Response, run: Run) -> bytes:
    cap = run.spec.max_body_bytes
    declared = response.headers.get("content-length", "")
    if run.spec.method != "HEAD" and declared.isdigit() and int(declared) > cap:
        raise Failed(f"body larger than {cap} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        run.measurements["body_bytes"] = size
        if size > cap:  # stop reading: an endless body must not fill memory
            raise Failed(f"body larger than {cap} bytes")
        chunks.append(chunk)
    run.measurements["body_bytes"] = size
    if run.trace.headers_at:
        run.trace.phases["phase_transfer"] = time.perf_counter() - run.trace.headers_at
    return b"".join(chunks)


def _note_address(response: httpx.Response, run: Run) -> None:
    """Which address answered, for checks that pin `expect_addresses` (a SOC signal).
    Only for those: asking the stream for its peer raised the CPU per probe by ~30 % in
    bench/probe_cost.py (--concurrency 5)."""
    if not run.spec.expect_addresses:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer:
        address = str(peer[0])
        run.measurements["remote_address"] = address
        run.measurements["address_expected"] = address in run.spec.expect_addresses
