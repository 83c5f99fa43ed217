"""HTTP(S) probe: one request (plus bounded redirects) judged against the spec's expectations.

The whole probe, body included, runs under one deadline, so a server that drips bytes or
never ends its body cannot hold a probe longer than its timeout.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import dataclasses
import functools
import hashlib
import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from checks import oauth2
from checks.cert_chain import counted_chain
from checks.context import ProbeContext
from checks.http_clients import DEFAULT_HEADERS, ProbeConnections
from checks.http_cookies import ChainCookies, sets_cookies
from checks.http_headers import header_failure
from checks.http_proxy import shown
from checks.http_tls import chain_expiry
from checks.ip_family import NoAddressOfFamily
from checks.result import Measurement, Verdict
from checks.specs import HttpSpec, OAuth2

_SNIPPET = 60  # characters of an expected/received value quoted in a reason


class _Failed(Exception):
    """A judgement reached while the response is still open (redirect bound, body cap)."""


class _Trace:
    """httpx `trace` extension callback: phase timings and where the probe is now.

    httpcore resolves the name inside `connect_tcp`, so DNS time is part of phase_connect
    and no phase_dns is reported. Phases of redirect hops add up; a reused keep-alive
    connection has no connect or TLS phase (`connects` counts the connections opened).
    `family` is the address family of the last connection opened, `fell_back` whether a
    `fallback: true` check took the other family for want of its own (checks/ip_family.py).
    """

    __slots__ = (
        "_counted",
        "_named",
        "_sni",
        "_starts",
        "chains",
        "connects",
        "family",
        "fell_back",
        "headers_at",
        "phase",
        "phases",
        "proxy_host",
        "tls_version",
    )

    def __init__(self, named: tuple[str, str] | None = None) -> None:
        self.phase = "waiting for a connection"
        self.connects = 0
        self.family = ""
        self.fell_back = False
        self.chains: list[tuple[str, list[bytes]]] = []  # per TLS connection: name, chain
        self.tls_version = ""
        self._sni = ""
        self._named = named  # (host, server_name): a tunnel's handshake names the host
        self._counted = True
        self.proxy_host: str | None = None  # an https proxy's: its handshake is not the origin's
        self.phases: dict[str, float] = {}
        self._starts: dict[str, float] = {}
        self.headers_at = 0.0

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        # "connection.connect_tcp.started", "http11.send_request_body.complete", ...
        step = name.partition(".")[2]
        handler = _STEPS.get(step)
        if handler is not None:
            handler(self, time.perf_counter(), info)

    def _start(self, key: str, phase: str, now: float) -> None:
        self._starts[key] = now
        self.phase = phase

    def _end(self, key: str, bucket: str, now: float) -> None:
        start = self._starts.pop(key, None)
        if start is not None:
            self.phases[bucket] = self.phases.get(bucket, 0.0) + now - start

    def _connecting(self, now: float) -> None:
        self.connects += 1
        self._start("connect", "while connecting", now)

    def _connected(self, now: float, info: dict[str, Any]) -> None:
        self._end("connect", "phase_connect", now)
        stream = info.get("return_value")
        self.family = getattr(stream, "family", "")  # our backend's streams say (http_backend)
        self.fell_back = self.fell_back or getattr(stream, "fell_back", False)

    def _tls_started(self, now: float, info: dict[str, Any]) -> None:
        self._start("tls", "during the TLS handshake", now)
        self._sni = str(info.get("server_hostname") or "")
        self._counted = self._sni != self.proxy_host
        if self._named is not None and self._sni == self._named[0]:
            self._sni = self._named[1]  # the name the tunnel asks for (checks/http_proxy.py)

    def _tls_done(self, now: float, info: dict[str, Any]) -> None:
        self._end("tls", "phase_tls", now)
        stream = info.get("return_value")
        tls = stream.get_extra_info("ssl_object") if stream is not None else None
        if tls is not None and self._counted:  # its certificates, for the first expiry
            self.chains.append((self._sni, counted_chain(tls)))
            self.tls_version = tls.version() or ""

    def _headers_received(self, now: float) -> None:
        self._end("sent", "phase_processing", now)
        self.headers_at = now
        self.phase = "while reading the body"


_STEPS: dict[str, Callable[[_Trace, float, dict[str, Any]], None]] = {
    "connect_tcp.started": lambda t, now, _: t._connecting(now),
    "connect_tcp.complete": lambda t, now, info: t._connected(now, info),
    "start_tls.started": lambda t, now, info: t._tls_started(now, info),
    "start_tls.complete": lambda t, now, info: t._tls_done(now, info),
    "send_request_headers.started": lambda t, now, _: setattr(
        t, "phase", "while sending the request"
    ),
    "send_request_body.complete": lambda t, now, _: t._start(
        "sent", "waiting for the response headers", now
    ),
    "receive_response_headers.complete": lambda t, now, _: t._headers_received(now),
}


@dataclass(slots=True)
class Fetched:
    response: httpx.Response
    body: bytes
    redirects: int


class Run:
    """State of one probe run, kept outside the deadline so a timeout still reports it."""

    def __init__(self, spec: HttpSpec, now: Callable[[], datetime]) -> None:
        self.spec = spec
        self.now = now
        self.trace = _Trace(spec.named)
        self.started = time.perf_counter()
        self.measurements: dict[str, Measurement] = {}
        self.connection: str | None = None  # new | reused | retried, of the chain's requests
        self.bearer: str | None = None  # an OAuth2 access token, for auth.oauth2
        self.read_body = spec.reads_body  # a scenario step that captures from it sets it too
        self.cookies: ChainCookies | None = None  # a scenario's session; None: the chain's own
        # drain a small unread body so the connection serves again: kept-alive checks, and a
        # scenario's steps (its next step reuses it)
        self.keep_connection = bool(spec.reuse_connection)
        self.via: str | None = None  # the proxy of the chain's last request, if any

    def measured(self) -> dict[str, Measurement]:
        connection = self.connection or ("new" if self.trace.connects else None)
        if connection is not None:
            self.measurements["connection"] = connection
        if self.trace.family:
            self.measurements["ip_family"] = self.trace.family
        if self.trace.fell_back:
            self.measurements["ip_fallback"] = True
        if self.trace.chains:
            self.measurements.update(chain_expiry(self.trace.chains, self.now()))
            self.measurements["tls_version"] = self.trace.tls_version
        return {**self.measurements, **{k: round(v, 6) for k, v in self.trace.phases.items()}}


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
    except (_Failed, oauth2.TokenFailure) as failed:
        return Verdict.fail(str(failed), **run.measured()), None
    except httpx.HTTPError as exc:
        reason = describe_error(exc, run.trace.phase)
        if run.via is not None:
            reason = _proxy_reason(exc, reason, run.via)
        return Verdict.fail(reason, **run.measured()), None
    verdict = judge(spec, fetched, run)
    if run.via is not None and verdict.reason:
        verdict = dataclasses.replace(
            verdict, reason=f"{verdict.reason} (via proxy {shown(run.via)})"
        )
    return verdict, fetched


def _proxy_reason(error: httpx.HTTPError, reason: str, proxy: str) -> str:
    """Which hop failed: the proxy itself (refused, unreachable, its CONNECT answer) or the
    origin behind it."""
    if isinstance(error, httpx.ProxyError):  # httpcore: "407 Proxy Authentication Required"
        return f"proxy {shown(proxy)} refused the tunnel: {error}"
    if isinstance(error, httpx.ConnectError) and not reason.startswith("TLS"):
        return f"proxy {shown(proxy)}: {reason}"  # the TCP connection goes to the proxy
    return f"{reason} (via proxy {shown(proxy)})"


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
    request = _first_request(run)
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
                raise _Failed(f"more than {run.spec.max_redirects} redirects")
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


# The probe's own deadline (`asyncio.timeout` in `probe`) bounds the whole exchange, body
# included, so httpcore needs no timer of its own per connect, read and write: one timer per
# probe instead of one per socket operation.
_NO_STEP_TIMEOUTS = httpx.Timeout(None).as_dict()


def _first_request(run: Run) -> httpx.Request:
    spec = run.spec
    headers = httpx.Headers(DEFAULT_HEADERS)
    headers.update(spec.headers)
    authorization = _authorization(run)
    if authorization:
        headers["Authorization"] = authorization  # dropped on a redirect to another origin
    extensions: dict[str, Any] = {"timeout": _NO_STEP_TIMEOUTS, "trace": run.trace}
    if spec.server_name:
        extensions["sni_hostname"] = spec.server_name  # SNI and the name verified
    return httpx.Request(
        spec.method,
        spec.request_url,  # parsed once per spec
        headers=headers,
        content=spec.content,
        extensions=extensions,
    )


def redirect_request(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """The request a browser makes next for a redirect response, or None when it is not one.

    As httpx's client does (RFC 9110 15.4): 303 becomes GET (but HEAD), and so do 301 and 302
    after a POST, dropping the body; another origin gets no header or body the check set; Host
    follows the new URL. A Location that is not a URL raises `httpx.RemoteProtocolError`.
    """
    if not response.has_redirect_location:
        return None
    try:
        url = request.url.join(response.headers["Location"])
    except httpx.InvalidURL as bad:
        raise httpx.RemoteProtocolError(f"invalid redirect location: {bad}") from None
    method = request.method
    if (response.status_code == 303 and method != "HEAD") or (
        response.status_code in (301, 302) and method == "POST"
    ):
        method = "GET"
    headers = httpx.Headers(request.headers)
    headers.pop("Host", None)
    content = None
    if url.scheme != request.url.scheme or url.netloc != request.url.netloc:
        # another origin gets none of what the check set (X-Api-Key, Cookie, Authorization)
        # and no body: only the agent's own defaults, as if it asked a stranger
        headers = httpx.Headers(DEFAULT_HEADERS)
        if method not in ("GET", "HEAD"):
            method = "GET"
    elif method != request.method:
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
    elif request.method not in ("GET", "HEAD"):
        content = request.content  # 307/308 repeat the request, body included
    extensions = request.extensions
    if "sni_hostname" in extensions and url.host != request.url.host:
        # the check's server_name is its own host's: another host is asked by its own name
        extensions = {k: v for k, v in extensions.items() if k != "sni_hostname"}
    return httpx.Request(method, url, headers=headers, content=content, extensions=extensions)


def _authorization(run: Run) -> str | None:
    auth = run.spec.auth
    if auth is None:
        return None
    if auth.oauth2 is not None:
        return f"Bearer {run.bearer}"
    if auth.bearer is not None:
        return f"Bearer {auth.bearer.get_secret_value()}"
    assert auth.basic is not None  # the spec validates exactly one scheme
    pair = f"{auth.basic.username}:{auth.basic.password.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


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
        raise _Failed(f"body larger than {cap} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        run.measurements["body_bytes"] = size
        if size > cap:  # stop reading: an endless body must not fill memory
            raise _Failed(f"body larger than {cap} bytes")
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


# --- judging a complete response -------------------------------------------------------------


def judge(spec: HttpSpec, fetched: Fetched, run: Run) -> Verdict:
    latency = time.perf_counter() - run.started
    run.measurements["latency"] = round(latency, 6)
    if fetched.redirects:
        run.measurements["redirects"] = fetched.redirects
    if spec.static:
        run.measurements["body_sha256"] = hashlib.sha256(fetched.body).hexdigest()
    reason = _first_failure(spec, fetched.response, fetched.body)
    if reason:
        return Verdict.fail(reason, **run.measured())
    if spec.max_latency is not None and latency > spec.max_latency:
        slow = f"latency {latency:.3f}s over {spec.max_latency:g}s"
        return Verdict.degraded(slow, **run.measured())
    return Verdict.ok(**run.measured())


def _first_failure(spec: HttpSpec, response: httpx.Response, body: bytes) -> str | None:
    reason = (
        _transport_failure(spec, response)
        or _status_failure(spec, response.status_code)
        or _header_failure(spec, response)
    )
    if reason or not spec.body_conditions:
        return reason
    text = body.decode(body_encoding(response), errors="replace")
    reason = _text_failure(spec, text)
    if reason is None and (spec.json_ or spec.expect_json):
        reason = _json_failure(spec, response, text)
    return reason


def _text_failure(spec: HttpSpec, text: str) -> str | None:
    if spec.body_contains is not None and spec.body_contains not in text:
        return f"body does not contain {_quote(spec.body_contains)}"
    if spec.body_regex is not None and not _regex(spec.body_regex).search(text):
        return f"body does not match /{clip(spec.body_regex)}/"
    if spec.body_not_contains is not None and spec.body_not_contains in text:
        return f"body contains {_quote(spec.body_not_contains)}"
    if spec.body_not_regex is not None and (found := _regex(spec.body_not_regex).search(text)):
        return f"body matches /{clip(spec.body_not_regex)}/ ({_quote(found.group(0))})"
    return None


def _transport_failure(spec: HttpSpec, response: httpx.Response) -> str | None:
    if spec.require_tls is None:
        return None
    final = response.request.url
    if spec.require_tls and final.scheme != "https":
        return f"downgrade: the chain ends on plain http ({clip(str(final))})"
    if not spec.require_tls and final.scheme == "https":
        return f"the chain ends on https ({clip(str(final))}), require_tls is false"
    return None


def _status_failure(spec: HttpSpec, status: int) -> str | None:
    if spec.expect_status is None:
        return None if 200 <= status <= 299 else f"status {status}, expected 2xx"
    if status in spec.expect_status:
        return None
    return f"status {status}, expected {' or '.join(str(s) for s in spec.expect_status)}"


def _header_failure(spec: HttpSpec, response: httpx.Response) -> str | None:
    if not (spec.expect_headers or spec.forbid_headers):
        return None
    return header_failure(spec.expect_headers, spec.forbid_headers, response.headers)


def _json_failure(spec: HttpSpec, response: httpx.Response, text: str) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return f"body is not JSON (starts {_quote(text[:_SNIPPET])})"
    reason = _json_equality_failure(spec.json_ or {}, document)
    if reason is None and spec.expect_json:
        from checks.json_expr import Evaluation  # the CEL runtime loads only when used

        evaluation = Evaluation(document, response.status_code, _joined(response.headers.raw))
        reason = evaluation.failure(spec.expect_json)
    return reason


def _joined(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header values by lower-case name, repeated headers joined with ", " (RFC 9110 5.3)."""
    joined: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        joined[key] = f"{joined[key]}, {text}" if key in joined else text
    return joined


def _json_equality_failure(expected: dict[str, Any], document: Any) -> str | None:
    for path, want in expected.items():
        try:
            found = json_path(document, path)
        except LookupError as missing:
            return f"JSON {path}: {missing.args[0]}"
        if not _json_equal(found, want):
            return f"JSON {path} is {clip(json.dumps(found))}, expected {clip(json.dumps(want))}"
    return None


def _json_equal(found: Any, want: Any) -> bool:
    # In Python True == 1; in JSON they are different values.
    if isinstance(found, bool) or isinstance(want, bool):
        return type(found) is type(want) and found == want
    return bool(found == want)


# --- a small JSON path: $.a.b[0].c, $['odd key'], $.items[-1] ----------------------------

_PATH_TOKEN = re.compile(r"\.([^.\[\]'\"]+)|\[(-?\d+)\]|\[(['\"])(.*?)\3\]")


@functools.lru_cache(maxsize=1024)
def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Steps of a path: keys (str) and indices (int). ValueError when it is not one."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSON path (start it with '$')")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"{path!r} is not a JSON path (at character {position})")
        key, index, _, quoted = match.groups()
        steps.append(int(index) if index is not None else (key if key is not None else quoted))
        position = match.end()
    return tuple(steps)


def json_path(document: Any, path: str) -> Any:
    """The value at `path`; LookupError saying which step is missing."""
    try:
        steps = parse_json_path(path)
    except ValueError as bad:
        raise LookupError(str(bad)) from None
    value = document
    for step in steps:
        if not _has(value, step):
            raise LookupError(f"no {step!r} in {type(value).__name__}")
        value = value[step]
    return value


def _has(value: Any, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(value, list) and -len(value) <= step < len(value)
    return isinstance(value, dict) and step in value


# --- helpers ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def body_encoding(response: httpx.Response) -> str:
    charset = response.charset_encoding
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"


def clip(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _quote(text: str) -> str:
    return repr(clip(text))


def describe_error(exc: BaseException, phase: str) -> str:
    """One line for a transport error: refused, TLS, DNS, reset, protocol. The socket's, the
    resolver's or TLS's own error is the cause of httpcore's (checks/http_backend.py) and is
    named by its type, never by its text (which differs between platforms and loops)."""
    for cause in _causes(exc):
        reason = _cause_reason(cause, phase)
        if reason is not None:
            return reason
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error {phase}: {text}"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {text}"
    return f"{type(exc).__name__} {phase}: {text}"


def _cause_reason(cause: BaseException, phase: str) -> str | None:
    if isinstance(cause, NoAddressOfFamily):
        return str(cause)
    if isinstance(cause, socket.gaierror):  # any EAI_*: unknown name, resolver down, ...
        return f"cannot resolve host: {cause}"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: {(cause.verify_message or cause.reason).rstrip('.')}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed: {_ssl_reason(cause)}"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return f"connection reset {phase}"
    return None


def _ssl_reason(error: ssl.SSLError) -> str:
    reason = error.reason or str(error)
    return reason.replace("_", " ").lower()


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
