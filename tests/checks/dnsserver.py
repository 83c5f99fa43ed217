"""A tiny authoritative DNS server for tests, on 127.0.0.1 over UDP and TCP (same port).

Tests change `records`, `rcodes`, `silent` and `truncate_udp` while it runs:

    server.records[("www.example.org", "A")] = ["192.0.2.1"]
    server.rcodes["gone.example.org"] = "NXDOMAIN"
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class DnsServer:
    port: int = 0
    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    rcodes: dict[str, str] = field(default_factory=dict)  # name -> rcode, overrides records
    ttl: int = 300
    silent: bool = False  # swallow queries: the client must time out
    truncate_udp: bool = False  # answer UDP with TC set and no records: forces TCP fallback
    queries: list[tuple[str, str, str]] = field(default_factory=list)  # (proto, name, type)
    recursion_desired: list[bool] = field(default_factory=list)  # each query's RD flag
    # record lines ("example.org. 3600 IN NS ns1.example.org.") put in every NOERROR answer
    authority: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    tls_port: int = 0  # DNS over TLS, when serve_dns was given a TLS context

    def answer(self, wire: bytes, proto: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((proto, name, rdtype))
        self.recursion_desired.append(bool(query.flags & dns.flags.RD))
        if self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if proto == "udp" and self.truncate_udp:
            response.flags |= dns.flags.TC
            return response.to_wire()
        if name in self.rcodes:
            response.set_rcode(dns.rcode.from_text(self.rcodes[name]))
            return response.to_wire()
        texts = self.records.get((name, rdtype))
        if texts is None and not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif texts:
            response.answer.append(
                dns.rrset.from_text_list(question.name, self.ttl, dns.rdataclass.IN, rdtype, texts)
            )
        if response.rcode() == dns.rcode.NOERROR:
            response.authority.extend(_rrset(line) for line in self.authority)
            response.additional.extend(_rrset(line) for line in self.additional)
        return response.to_wire()


def _rrset(line: str) -> dns.rrset.RRset:
    name, ttl, rdclass, rdtype, data = line.split(None, 4)
    return dns.rrset.from_text(name, int(ttl), rdclass, rdtype, data)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython 3.11's selector transport does not subclass DatagramTransport: cast, not assert.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def _tcp_client(
    server: DnsServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    proto: str = "tcp",
) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = server.answer(await reader.readexactly(length), proto)
            if reply is None:
                continue
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    writer.close()


def _free_port() -> int:
    """A port free for both UDP and TCP, so one number serves both transports."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


@contextlib.asynccontextmanager
async def serve_dns(
    server: DnsServer | None = None, tls: ssl.SSLContext | None = None
) -> AsyncIterator[DnsServer]:
    """UDP and TCP on one port; with `tls`, DNS over TLS (RFC 7858) on `tls_port` too."""
    server = server or DnsServer()
    server.port = _free_port()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(server), local_addr=("127.0.0.1", server.port)
    )
    tcp = await asyncio.start_server(
        lambda r, w: _tcp_client(server, r, w), "127.0.0.1", server.port
    )
    listeners = [tcp]
    if tls is not None:
        dot = await asyncio.start_server(
            lambda r, w: _tcp_client(server, r, w, "tls"), "127.0.0.1", 0, ssl=tls
        )
        server.tls_port = dot.sockets[0].getsockname()[1]
        listeners.append(dot)
    try:
        yield server
    finally:
        transport.close()
        for listener in listeners:
            listener.close()
            await listener.wait_closed()
