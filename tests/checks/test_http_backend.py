"""The HTTP probe's network backend (checks/http_backend.py) against real loopback sockets, on
asyncio's loop and on uvloop (tests/checks/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest

from checks.context import ProbeContext
from checks.http_backend import HAPPY_EYEBALLS_DELAY, HIGH_WATER, AsyncioBackend
from checks.http_clients import HttpClientPool
from checks.ip_family import NoAddressOfFamily
from checks.result import Outcome
from checks.runner import run_probe
from checks.specs import HttpSpec
from tests.checks.loopback import HOST, HttpServer, Pki, RawServer, Reply
from tests.checks.test_http import free_port


async def probe(ctx: ProbeContext, url: str, *, reuse: bool = False) -> tuple[Outcome, str]:
    spec = HttpSpec(url=url, reuse_connection=reuse)
    result = await run_probe("svc/http", "http", spec, 2.0, ctx)
    return result.outcome, result.reason


async def test_a_kept_alive_connection_the_server_closed_is_not_reused(ctx: ProbeContext) -> None:
    """The server's FIN arrives while the connection idles in the pool: the next probe must
    open a new connection, not fail on the dead one."""
    replies = 0

    def close_after_answering(_: object) -> Reply:
        nonlocal replies
        replies += 1
        return Reply(200, "ok")

    async with HttpServer({"/": close_after_answering}) as server:
        assert await probe(ctx, server.url(), reuse=True) == (Outcome.OK, "")
        await server.drop_connections()
        await asyncio.sleep(0.05)  # the FIN reaches the client
        assert await probe(ctx, server.url(), reuse=True) == (Outcome.OK, "")
        assert server.connections == 2
    assert replies == 2


def client_tls_objects() -> int:
    """Client-side SSL objects alive (the server's own are not counted)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, ssl.SSLObject) and not o.server_side)


async def test_a_pooled_connection_the_server_closed_lets_its_tls_state_go(
    ctx: ProbeContext, pki: Pki
) -> None:
    """A kept-alive TLS connection the server closes waits in its pool until the next request
    to that origin finds it dead (at 2,000 origins, ~6 s on average): meanwhile it must not
    hold its SSL object and the loop's TLS buffers (item 4 of #18: ~43 KB per origin)."""
    async with HttpServer({"/": lambda _: Reply(200, "ok")}, pki.server_context()) as server:
        url = server.url(host="localhost")
        spec = HttpSpec(url=url, ca_bundle=pki.ca_bundle, reuse_connection=True)
        result = await run_probe("svc/http", "http", spec, 2.0, ctx)
        assert (result.outcome, result.reason) == (Outcome.OK, "")
        assert client_tls_objects() == 1  # alive and pooled: kept for the next probe
        await server.drop_connections()
        await asyncio.sleep(0.2)  # close_notify and FIN reach the client
        assert ctx.http.origins == 1  # the dead connection is still in its origin's pool
        assert client_tls_objects() == 0
        result = await run_probe("svc/http", "http", spec, 2.0, ctx)
        assert (result.outcome, result.reason) == (Outcome.OK, "")
        assert server.connections == 2


async def test_reading_pauses_while_unread_bytes_pass_the_high_water_mark() -> None:
    """A peer that sends faster than the probe reads must not fill memory: the socket is not
    read while HIGH_WATER bytes wait, and every byte still arrives once they are taken."""
    total = 8 * HIGH_WATER

    async def flood(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * total)
        await writer.drain()
        writer.close()

    async with RawServer(flood) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        await asyncio.sleep(0.2)  # the loop reads what it may
        buffered = stream._protocol.buffered  # type: ignore[attr-defined]
        assert HIGH_WATER <= buffered < 2 * HIGH_WATER
        received = 0
        while chunk := await stream.read(65536):
            assert len(chunk) <= 65536
            received += len(chunk)
        await stream.aclose()
    assert received == total


async def test_a_read_with_a_timeout_raises_httpcores_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()

    async with RawServer(silent) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.05)
        await stream.aclose()


async def test_errors_are_httpcores_with_the_socket_error_as_cause() -> None:
    with pytest.raises(httpcore.ConnectError) as refused:
        await AsyncioBackend().connect_tcp(HOST, free_port())
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        linger_zero = struct.pack("ii", 1, 0)  # close with an RST, not a FIN
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        writer.transport.abort()

    async with RawServer(hang_up) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        with pytest.raises(httpcore.ReadError) as reset:
            await stream.read(1024)
        assert isinstance(reset.value.__cause__, ConnectionResetError)
        await stream.aclose()


async def test_writing_to_a_closed_connection_raises_write_error() -> None:
    async def idle(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()

    async with RawServer(idle) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        await stream.aclose()
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"GET / HTTP/1.1\r\n\r\n")


async def test_the_stream_reports_its_addresses(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        assert stream.get_extra_info("server_addr")[:2] == (HOST, server.port)
        assert stream.get_extra_info("client_addr")[0] == HOST
        assert stream.get_extra_info("socket") is not None
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("is_readable") is False
        await stream.aclose()


@contextlib.contextmanager
def blackhole_on_ipv6_loopback(port: int) -> Iterator[None]:
    """A listener on [::1]:port whose accept queue is full and never served: Linux drops
    further SYNs, so a connection attempt hangs as to an address with a broken route."""
    listener = socket.socket(socket.AF_INET6)
    clients: list[socket.socket] = []
    try:
        listener.bind(("::1", port))
        listener.listen(0)
        for _ in range(3):
            client = socket.socket(socket.AF_INET6)
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("::1", port))
            clients.append(client)
        yield
    finally:
        for client in clients:
            client.close()
        listener.close()


async def test_a_name_whose_first_address_hangs_is_reached_on_the_next() -> None:
    """Happy eyeballs (RFC 8305): uvloop's create_connection does not race addresses, so the
    backend does; without it the probe would wait on [::1] until its deadline."""
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:

        async def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
            assert host == "dual-stack.test"
            tcp = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
            return [
                (socket.AF_INET6, *tcp, ("::1", port, 0, 0)),
                (socket.AF_INET, *tcp, (HOST, port)),
            ]

        context = ProbeContext(
            http=HttpClientPool(backend=AsyncioBackend(resolve)),
            heartbeats=None,  # type: ignore[arg-type]
        )
        try:
            with blackhole_on_ipv6_loopback(server.port):
                started = time.perf_counter()
                outcome = await probe(context, f"http://dual-stack.test:{server.port}/")
                elapsed = time.perf_counter() - started
        finally:
            await context.aclose()
    assert outcome == (Outcome.OK, "")
    assert HAPPY_EYEBALLS_DELAY <= elapsed < 1.5


def _dual_stack(port: int) -> Any:
    async def resolve(host: str, port_asked: int) -> list[tuple[Any, ...]]:
        tcp = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
        return [(socket.AF_INET6, *tcp, ("::1", port, 0, 0)), (socket.AF_INET, *tcp, (HOST, port))]

    return resolve


async def test_a_name_whose_every_address_refuses_is_refused() -> None:
    """The race (aiohappyeyeballs) joins the attempts' errors into one: still a refusal."""
    port = free_port()
    context = ProbeContext(
        http=HttpClientPool(backend=AsyncioBackend(_dual_stack(port))),
        heartbeats=None,  # type: ignore[arg-type]
    )
    try:
        outcome = await probe(context, f"http://dual-stack.test:{port}/")
    finally:
        await context.aclose()
    assert outcome == (Outcome.FAIL, "connection refused")


async def test_a_name_whose_first_address_refuses_is_reached_on_the_next() -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:  # 127.0.0.1 only
        context = ProbeContext(
            http=HttpClientPool(backend=AsyncioBackend(_dual_stack(server.port))),
            heartbeats=None,  # type: ignore[arg-type]
        )
        try:
            spec = HttpSpec(url=f"http://dual-stack.test:{server.port}/")
            result = await run_probe("svc/http", "http", spec, 2.0, context)
        finally:
            await context.aclose()
    assert (result.outcome, result.measurements["ip_family"]) == (Outcome.OK, "ip4")


async def test_an_https_body_ended_by_closing_without_close_notify_is_read_whole(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    """Many servers end a close-delimited body by dropping the connection without TLS's
    close_notify; browsers, curl and anyio's stream (standard_compatible=False) take that as
    the end of the body, and so must the probe."""
    pki = Pki(tmp_path)

    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nportal up")
        await writer.drain()
        writer.transport.abort()  # TCP FIN with no close_notify first

    async with RawServer(close_delimited, pki.server_context()) as server:
        spec = HttpSpec(
            url=f"https://localhost:{server.port}/",
            ca_bundle=pki.ca_bundle,
            body_contains="portal up",
        )
        result = await run_probe("svc/http", "http", spec, 2.0, ctx)
    assert (result.outcome, result.reason) == (Outcome.OK, "")
    assert result.measurements["body_bytes"] == len("portal up")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (ConnectionResetError(104, "Reset by peer"), "connection reset while connecting"),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "cannot resolve host: [Errno -2] Name or service not known",
        ),
        (  # the resolver down: named as a resolution failure though its words differ
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "cannot resolve host: [Errno -3] Temporary failure in name resolution",
        ),
        (
            NoAddressOfFamily("v4only.test has no IPv6 address (ip_family: ip6)"),
            "v4only.test has no IPv6 address (ip_family: ip6)",
        ),
    ],
    ids=["refused", "reset", "unknown name", "resolver down", "no address of the family"],
)
async def test_connection_errors_are_named_by_their_type_not_their_text(
    error: OSError, reason: str
) -> None:
    """Each error the connect step can meet (raised here where getaddrinfo would raise it)
    crosses the backend's one mapping (an httpcore error, the socket's as its cause) and gets
    its own words: none falls through to the catch-all "connection failed"."""

    async def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
        raise error

    context = ProbeContext(
        http=HttpClientPool(backend=AsyncioBackend(resolve)),
        heartbeats=None,  # type: ignore[arg-type]
    )
    try:
        outcome = await probe(context, "http://service.test/")
    finally:
        await context.aclose()
    assert outcome == (Outcome.FAIL, reason)
