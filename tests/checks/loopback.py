"""Real servers on 127.0.0.1 for probe tests: a small HTTP/1.1 server, TLS certs, hostile peers.

Everything runs on the test's own event loop and is torn down (connections included) on exit,
so no socket outlives its test.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from checks.context import ProbeContext
from checks.http_clients import HttpClientPool

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HOST = "127.0.0.1"


def probe_context() -> ProbeContext:
    """A context with a fresh pool; heartbeats are not used by the network probes."""
    return ProbeContext(http=HttpClientPool(), heartbeats=None)  # type: ignore[arg-type]


class RawServer:
    """A TCP (or TLS) server whose every connection runs `handler`; closes all on exit."""

    def __init__(self, handler: ConnectionHandler, ssl_context: ssl.SSLContext | None = None):
        self._handler = handler
        self._ssl = ssl_context
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.connections = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, HOST, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def open_connections(self) -> int:
        """Connections the server still holds: the probe's close shows here as a drop."""
        return len(self._writers)

    def stop_accepting(self) -> None:
        """Close the listener, keep the connections already open (a backend leaving the pool,
        a crashed listener whose workers still hold their sockets)."""
        assert self._server is not None
        self._server.close()  # the listening sockets only: served connections stay open

    async def drop_connections(self) -> None:
        """Close every open connection cleanly (a FIN), as a server ending its keep-alives."""
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass  # the probe hung up: expected for hostile and failing cases
        except asyncio.CancelledError:
            # Our own teardown. Ending normally keeps asyncio.streams (3.11) from logging
            # the cancellation as an error in its done-callback.
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    chunks: Callable[[], AsyncIterator[bytes]] | None = None  # a chunked body, sent as produced


Route = Callable[[Request], Reply | Awaitable[Reply]]


class HttpServer(RawServer):
    """HTTP/1.1 with keep-alive, routes by path; records every request it receives."""

    def __init__(self, routes: Mapping[str, Route], ssl_context: ssl.SSLContext | None = None):
        super().__init__(self._connection, ssl_context)
        self.routes = routes
        self.requests: list[Request] = []
        self.scheme = "https" if ssl_context else "http"

    def url(self, path: str = "/", host: str = HOST) -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await _read_request(reader)) is not None:
            self.requests.append(request)
            route = self.routes.get(request.path, _not_found)
            reply = route(request)
            if inspect.isawaitable(reply):
                reply = await reply
            await _write_reply(writer, reply, head=request.method == "HEAD")


def _not_found(_: Request) -> Reply:
    return Reply(404, "not found")


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()).strip():
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, target, headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply, *, head: bool) -> None:
    await asyncio.sleep(reply.delay)
    body = reply.body.encode() if isinstance(reply.body, str) else reply.body
    headers = {"content-type": "text/plain; charset=utf-8", **reply.headers}
    if reply.chunks is not None:
        headers["transfer-encoding"] = "chunked"
    else:
        headers.setdefault("content-length", str(len(body)))
    lines = [f"HTTP/1.1 {reply.status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if reply.chunks is not None:
        async for chunk in reply.chunks():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    elif not head:
        writer.write(body)
    await writer.drain()


# --- hostile peers ---------------------------------------------------------------------------


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, reads whatever comes, never says a word."""
    while await reader.read(4096):
        pass
    await asyncio.Event().wait()


async def speaks_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers anything (a TLS ClientHello included) with bytes that are not TLS."""
    await reader.read(4096)
    writer.write(b"220 hello, this is not TLS at all\r\n" * 20)
    await writer.drain()
    await asyncio.Event().wait()


def drip(data: bytes, every: float) -> ConnectionHandler:
    """Sends `data` one byte at a time, one byte per `every` seconds."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)
        await asyncio.Event().wait()

    return handler


def endless(chunk: bytes = b"x" * 16384, pause: float = 0.0) -> Callable[[], AsyncIterator[bytes]]:
    """A chunked body that never ends."""

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield chunk
            await asyncio.sleep(pause)

    return chunks


# --- TLS -------------------------------------------------------------------------------------


class Pki:
    """A trusted CA (written to disk for `ca_bundle`) and server contexts for certs it issues."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.ca_bundle = str(directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_bundle)

    def server_context(
        self,
        *names: str,
        not_after: datetime | None = None,
        issuer: trustme.CA | None = None,
        max_version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        leaf = (issuer or self.ca).issue_cert(
            *(names or ("localhost", HOST)),
            not_before=datetime.now(UTC) - timedelta(days=30) if not_after else None,
            not_after=not_after,
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        if max_version is not None:
            context.maximum_version = max_version
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def days_from_now(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@contextlib.asynccontextmanager
async def ticking(every: float = 0.05) -> AsyncIterator[list[float]]:
    """A trivial concurrent task: its tick count shows the loop stayed responsive."""
    ticks: list[float] = []
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        while True:
            ticks.append(loop.time())
            await asyncio.sleep(every)

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def chain_context(pki: Pki, *, intermediate_days: float, leaf_days: float) -> ssl.SSLContext:
    """A server presenting leaf + intermediate, the intermediate signed by `pki`'s CA and
    expiring in `intermediate_days` (trustme cannot date a CA), the leaf in `leaf_days`."""
    root_key = pki.ca._private_key
    root = pki.ca._certificate
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _signed(
        _name("vigia test intermediate"),
        inter_key.public_key(),
        root.subject,
        root_key,
        days_from_now(intermediate_days),
        ca=True,
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _signed(
        _name("localhost"),
        leaf_key.public_key(),
        inter.subject,
        inter_key,
        days_from_now(leaf_days),
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as directory:
        chain, key = Path(directory, "chain.pem"), Path(directory, "key.pem")
        chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in (leaf, inter)))
        key.write_bytes(leaf_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        context.load_cert_chain(chain, key)
    return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _signed(
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: Any,
    not_after: datetime,
    *,
    ca: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=30))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())
