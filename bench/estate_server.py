"""Loopback HTTP estate for the benchmarks: many origins, one fast keep-alive responder.

Each origin is its own loopback address (127.0.0.2, 127.0.0.3, ...) so the agent sees distinct
hosts, as in production (its per-host cap and per-origin clients apply per origin). All of them
are served by one asyncio process started with `start`, so its CPU is not the benchmark's.
The responder answers every GET with 200 and a small JSON body, HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from multiprocessing.process import BaseProcess

BODY = b'{"status": "UP"}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


class _Responder(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")  # GETs only: no request bodies
        if requests:
            self.buffer = self.buffer.rsplit(b"\r\n\r\n", 1)[1]
            self.transport.write(RESPONSE * requests)


def _serve(socks: list[socket.socket]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(_Responder, sock=sock, backlog=4096) for sock in socks]
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(main())


def origins(count: int) -> list[socket.socket]:
    """`count` listening sockets on 127.0.0.2, 127.0.0.3, ... (distinct loopback hosts)."""
    if not 1 <= count <= 250:
        raise ValueError(f"{count} origins: between 1 and 250")
    return [socket.create_server((f"127.0.0.{2 + i}", 0), backlog=4096) for i in range(count)]


def start(socks: list[socket.socket]) -> BaseProcess:
    """Serve `socks` in a separate process (spawned: no state shared with the caller)."""
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(socks,), daemon=True, name="estate"
    )
    process.start()
    return process


def base_urls(socks: list[socket.socket]) -> list[str]:
    return ["http://{}:{}".format(*sock.getsockname()[:2]) for sock in socks]
