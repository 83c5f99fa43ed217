"""Loopback HTTP estate for the benchmarks: many origins, one fast keep-alive responder.

Each origin is its own loopback address (127.0.0.2, 127.0.0.3, ..., then 127.0.1.2, ...) so the
agent sees distinct hosts, as in production (its per-host cap and per-origin clients apply per
origin). All of them are served by one process started with `start`, so its CPU is not the
benchmark's. The responder answers every GET with 200 and a small JSON body, HTTP/1.1
keep-alive; `Options` adds what bench/peer_stack.py needs: origins that close a connection
after it has been idle a while (as most servers and load balancers do), TLS with one
certificate per origin, and shared counters of accepted connections and answered requests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import ssl
from dataclasses import dataclass
from functools import partial
from multiprocessing.process import BaseProcess
from typing import Any

BODY = b'{"status": "UP"}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
PER_BLOCK = 250  # origins per 127.0.<block>.0/24, from .2 up
MAX_ORIGINS = PER_BLOCK * 250
CONNECTIONS, REQUESTS = 0, 1  # indexes into the shared counters


@dataclass(frozen=True)
class Options:
    """How the estate behaves (picklable: it goes to the spawned server process)."""

    idle_close: float | None = None  # seconds idle after an answer before the server closes
    tls: tuple[tuple[str, str], ...] = ()  # (cert file, key file) per origin, in socket order
    tls_min_version: str = "TLSv1_3"


class _Responder(asyncio.Protocol):
    def __init__(self, options: Options, counters: Any) -> None:
        self.idle_close = options.idle_close
        self.counters = counters
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        if self.counters is not None:
            self.counters[CONNECTIONS] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")  # GETs only: no request bodies
        if requests:
            self.buffer = self.buffer.rsplit(b"\r\n\r\n", 1)[1]
            self.transport.write(RESPONSE * requests)
            if self.counters is not None:
                self.counters[REQUESTS] += requests
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def _arm(self) -> None:
        """(Re)start the idle timer after an answer: the server closes a kept-alive connection
        idle for `idle_close` s, as nginx's keepalive_timeout does. A new connection waits for
        its first request (a 50 ms timer from the handshake would fail a client that is merely
        slow to send on a busy machine: not what the estate means to test)."""
        if self.idle_close is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.idle_close, self.transport.close)


def _server_context(cert: str, key: str, min_version: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = getattr(ssl.TLSVersion, min_version)
    context.load_cert_chain(cert, key)
    return context


def _serve(socks: list[socket.socket], options: Options, counters: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        factory = partial(_Responder, options, counters)
        contexts: list[ssl.SSLContext | None] = [
            _server_context(cert, key, options.tls_min_version) for cert, key in options.tls
        ] or [None] * len(socks)
        servers = [
            await loop.create_server(factory, sock=sock, backlog=4096, ssl=context)
            for sock, context in zip(socks, contexts, strict=True)
        ]
        await asyncio.gather(*(server.serve_forever() for server in servers))

    try:  # the estate's own CPU is not measured, but it shares the machine: the cheaper loop
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def address(index: int) -> str:
    """Origin `index`'s loopback address: 127.0.0.2 ... 127.0.0.251, then 127.0.1.2 ..."""
    block, offset = divmod(index, PER_BLOCK)
    return f"127.0.{block}.{2 + offset}"


def origins(count: int) -> list[socket.socket]:
    """`count` listening sockets on 127.0.0.2, 127.0.0.3, ... (distinct loopback hosts)."""
    if not 1 <= count <= MAX_ORIGINS:
        raise ValueError(f"{count} origins: between 1 and {MAX_ORIGINS}")
    return [socket.create_server((address(i), 0), backlog=4096) for i in range(count)]


def counters() -> Any:
    """Shared [accepted connections, answered requests], read by the caller at any time."""
    return multiprocessing.get_context("spawn").RawArray("q", 2)


def start(
    socks: list[socket.socket], options: Options | None = None, shared: Any = None
) -> BaseProcess:
    """Serve `socks` in a separate process (spawned: no state shared with the caller but
    `shared`, from `counters()`)."""
    options = options or Options()
    if options.tls and len(options.tls) != len(socks):
        raise ValueError(f"{len(options.tls)} certificates for {len(socks)} origins")
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(socks, options, shared), daemon=True, name="estate"
    )
    process.start()
    return process


def base_urls(socks: list[socket.socket], scheme: str = "http") -> list[str]:
    return [f"{scheme}://{{}}:{{}}".format(*sock.getsockname()[:2]) for sock in socks]
