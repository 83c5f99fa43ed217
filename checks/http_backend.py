"""httpcore network backend on asyncio's own transports, for the HTTP probe's connections.

httpcore's default backend on asyncio goes through anyio: every read and write opens a cancel
scope, its socket stream wraps asyncio's transport in another buffer with events, and every
keep-alive check (`is_readable`, once per pooled connection per request) builds a dict of
socket attributes and polls the socket. A probe needs none of that: its one deadline bounds
the whole exchange (checks/http.py). This backend is a plain `asyncio.Protocol` with a buffer
and one future to wake a reader, and TLS is the loop's own (`loop.start_tls`: C code under
uvloop, where anyio's TLS stream runs OpenSSL's memory BIOs from Python).

A keep-alive connection is "readable" when the server has sent anything while it sat idle:
bytes, a FIN or a reset. The protocol knows that without a system call, and unlike a poll of
the socket it also sees what the transport already read into its buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Iterable, Iterator
from typing import Any, cast

import httpcore
from aiohappyeyeballs import start_connection

from checks.ip_family import AddressInfo, Choice, IpFamily, Resolver, resolve

# Stop reading from the socket while this much is buffered and unread: a body the probe has
# given up on (over its cap) must not fill memory before the connection is closed.
HIGH_WATER = 256 * 1024


class _Protocol(asyncio.Protocol):
    """Collects what the transport reads; wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.at_eof = False
        self.error: BaseException | None = None
        self._reader: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.at_eof = True
        self._wake_reader()
        return False  # let the transport close its side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.at_eof = True
        self.error = exc
        # The transport holds the connection's TLS state (uvloop's SSL protocol: a 256 KiB
        # read buffer, the SSL object with the peer's chain). A kept-alive connection the
        # server closed stays in its pool until the next request to that origin finds it dead:
        # let that state go now, not then. A lost transport has no peer or socket to report.
        self.transport = None
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    @property
    def has_news(self) -> bool:
        return bool(self.chunks) or self.at_eof

    def take(self, max_bytes: int) -> bytes:
        data = self.chunks.popleft()
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks.appendleft(rest)
        self.buffered -= len(data)
        if self._reading_paused and self.buffered <= HIGH_WATER // 4 and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    def data_waiter(self) -> asyncio.Future[None]:
        """Done when bytes, the end or an error arrive (a future, not a coroutine: cheaper)."""
        self._reader = self._loop.create_future()
        return self._reader

    def drain_waiter(self) -> asyncio.Future[None] | None:
        """Done when the transport's write buffer is below its mark again; None if it is."""
        return None if self._drain is None else asyncio.shield(self._drain)

    def _wake_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)


def _within(waiter: asyncio.Future[None], timeout: float | None) -> Awaitable[None]:
    # No timeout: the probe's own deadline bounds it, so no timer (nor coroutine) per read.
    return waiter if timeout is None else asyncio.wait_for(waiter, timeout)


@contextlib.contextmanager
def _mapped(errors: dict[type[BaseException], type[Exception]]) -> Iterator[None]:
    """Re-raise as httpcore's exception, the original kept as the cause (checks/http.py reads
    the cause to tell a refusal from a reset from a certificate error)."""
    try:
        yield
    except Exception as exc:
        for kind, mapped in errors.items():  # in order: TimeoutError is an OSError too
            if isinstance(exc, kind):
                raise mapped(str(exc) or type(exc).__name__) from exc
        raise


_READ_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.ReadTimeout,
    OSError: httpcore.ReadError,
}
_WRITE_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.WriteTimeout,
    OSError: httpcore.WriteError,
}
_CONNECT_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.ConnectTimeout,
    OSError: httpcore.ConnectError,  # ssl.SSLError is an OSError
}


class AsyncioStream(httpcore.AsyncNetworkStream):
    """`family` (`ip4`/`ip6`) and `fell_back` say which address family the connection took:
    plain attributes, read by the probe's trace at no cost (asking the transport for its peer
    is what costs, checks/http.py `_note_address`).

    The transport is the protocol's, not a reference of the stream's own, so that a lost
    connection's transport (and TLS state) is freed while the stream sits in a pool."""

    def __init__(self, protocol: _Protocol, family: str = "", fell_back: bool = False) -> None:
        self._protocol = protocol
        self.family = family
        self.fell_back = fell_back

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        with _mapped(_READ_ERRORS):
            while not protocol.chunks:
                if protocol.error is not None:
                    raise protocol.error
                if protocol.at_eof:
                    return b""
                await _within(protocol.data_waiter(), timeout)
            return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(_WRITE_ERRORS):
            transport = self._protocol.transport
            if transport is None or transport.is_closing():
                raise self._protocol.error or BrokenPipeError("connection closed")
            transport.write(buffer)
            drained = self._protocol.drain_waiter()
            if drained is not None:
                await _within(drained, timeout)

    async def aclose(self) -> None:
        transport = self._protocol.transport
        if transport is not None:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        plain = self._protocol.transport
        with _mapped(_CONNECT_ERRORS):
            if plain is None:
                raise self._protocol.error or ConnectionResetError("connection closed")
            try:
                async with asyncio.timeout(timeout):
                    transport = await loop.start_tls(
                        plain, self._protocol, ssl_context, server_hostname=server_hostname
                    )
            except BaseException:
                plain.close()
                raise
        if transport is None:  # the loop closed the connection under us
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        self._protocol.transport = transport  # flow control now pauses the TLS transport
        return AsyncioStream(self._protocol, self.family, self.fell_back)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._protocol.has_news
        name = _EXTRA_INFO.get(info)
        transport = self._protocol.transport
        return transport.get_extra_info(name) if name and transport is not None else None


_EXTRA_INFO = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


# RFC 8305's connection attempt delay, as anyio (httpcore's default backend) and asyncio use:
# a host whose first address blackholes is reached on its next one a quarter second later.
HAPPY_EYEBALLS_DELAY = 0.25


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """`resolve` defaults to the loop's getaddrinfo; tests give names their own addresses.
    `family` and `fallback` filter the addresses (checks/ip_family.py); `for_family` gives the
    backend of another family over the same resolver."""

    def __init__(
        self, resolve: Resolver | None = None, family: IpFamily = "any", fallback: bool = False
    ) -> None:
        self._resolve = resolve
        self._family: IpFamily = family
        self._fallback = fallback

    def for_family(self, family: IpFamily, fallback: bool) -> AsyncioBackend:
        if (family, fallback) == (self._family, self._fallback):
            return self
        return AsyncioBackend(self._resolve, family, fallback)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _mapped(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                choice = await self._addresses(host, port)
                sock = await _connect_first(choice.addresses, local_address)
                try:
                    transport, protocol = await loop.create_connection(_Protocol, sock=sock)
                except BaseException:
                    sock.close()
                    raise
        stream = _stream(transport, protocol, socket_options)
        stream.family = "ip6" if sock.family == socket.AF_INET6 else "ip4"
        stream.fell_back = choice.fell_back
        return stream

    async def _addresses(self, host: str, port: int) -> Choice:
        if self._family != "any":
            return await resolve(host, port, self._family, self._fallback, self._resolve)
        try:
            literal = ipaddress.ip_address(host)  # most catalogue targets: no resolver call
        except ValueError:
            pass
        else:
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return Choice([(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))])
        if self._resolve is not None:
            return Choice(await self._resolve(host, port))
        loop = asyncio.get_running_loop()
        return Choice(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect_first(addresses: list[AddressInfo], local_address: str | None) -> socket.socket:
    """The first address to accept, tried in the resolver's order a delay apart (happy
    eyeballs, RFC 8305, by aiohappyeyeballs): the loop's own `create_connection` would do it,
    but uvloop's does not. One address (an IP literal: most targets) is simply connected."""
    if len(addresses) == 1:
        return await _connect(addresses[0], local_address)
    local = None
    if local_address:
        local = [(a[0], socket.SOCK_STREAM, 0, "", (local_address, 0)) for a in addresses]
    return await start_connection(
        addresses,
        local_addr_infos=local,
        happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
        interleave=0,  # the resolver's order, as `ip_family: any` documents (checks/ip_family.py)
        socket_factory=_socket,
    )


def _socket(address: AddressInfo) -> socket.socket:
    family, kind, proto, _, _ = address
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


async def _connect(address: AddressInfo, local_address: str | None) -> socket.socket:
    sock = _socket(address)
    try:
        sock.setblocking(False)
        if local_address:
            sock.bind((local_address, 0))
        await asyncio.get_running_loop().sock_connect(sock, address[4])
    except BaseException:
        sock.close()
        raise
    return sock


def _stream(
    transport: asyncio.BaseTransport, protocol: _Protocol, options: Iterable[Any] | None
) -> AsyncioStream:
    sock: socket.socket = transport.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)
    return AsyncioStream(protocol)
