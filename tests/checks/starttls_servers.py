"""Small servers speaking each protocol's STARTTLS exchange, then TLS, for RawServer.

Written from the RFCs (3207 SMTP, 3501 IMAP, 2595 POP3, 4217 FTP, 4511 LDAP), independently of
checks/starttls.py: the LDAP request the probe must send is spelt out byte for byte here.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from tests.checks.loopback import ConnectionHandler

# LDAPMessage { messageID 1, [APPLICATION 23] { [0] "1.3.6.1.4.1.1466.20037" } }
LDAP_STARTTLS_REQUEST = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16" + b"1.3.6.1.4.1.1466.20037"


@dataclass
class Behaviour:
    """How a server departs from the happy path; `seen` records what the client sent."""

    accept: bool = True  # False: the STARTTLS command is refused
    offer: bool = True  # SMTP: STARTTLS in the EHLO answer
    inject: bytes = b""  # sent in the clear right after accepting (response injection)
    greet_after: float = 0.0  # seconds of silence before the greeting
    punish_early: bool = False  # a client speaking before the greeting is dropped
    seen: list[bytes] = field(default_factory=list)
    upgraded: int = 0  # TLS handshakes begun (the probe may hang up before the server's ends)


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, b: Behaviour) -> bool:
    if b.greet_after:
        try:
            early = await asyncio.wait_for(reader.read(1), b.greet_after)
        except TimeoutError:
            early = b""
        if early and b.punish_early:
            writer.write(b"554 5.5.1 you spoke before my greeting\r\n")
            await writer.drain()
            return False
    return True


async def _upgrade(writer: asyncio.StreamWriter, tls: ssl.SSLContext, b: Behaviour) -> None:
    b.upgraded += 1
    await writer.start_tls(tls)


async def _line(reader: asyncio.StreamReader, b: Behaviour) -> bytes:
    line = await reader.readline()
    b.seen.append(line)
    return line


def smtp(tls: ssl.SSLContext, b: Behaviour) -> ConnectionHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not await _greet(reader, writer, b):
            return
        writer.write(b"220-mx.example.test ESMTP\r\n220 ready\r\n")
        secure = False
        while line := await _line(reader, b):
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                caps = [b"250-mx.example.test", b"250-PIPELINING", b"250-SIZE 10240000"]
                if b.offer and not secure:
                    caps.append(b"250-STARTTLS")
                writer.write(b"\r\n".join([*caps, b"250 HELP"]) + b"\r\n")
            elif verb == b"STARTTLS" and b.accept:
                writer.write(b"220 2.0.0 Ready to start TLS\r\n" + b.inject)
                await writer.drain()
                await _upgrade(writer, tls, b)
                secure = True
                continue
            elif verb == b"STARTTLS":
                writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.2 command not recognized\r\n")
            await writer.drain()

    return handler


def imap(tls: ssl.SSLContext, b: Behaviour) -> ConnectionHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
        while line := await _line(reader, b):
            tag, _, command = line.strip().partition(b" ")
            if command.upper() == b"STARTTLS" and b.accept:
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n")
                writer.write(tag + b" OK Begin TLS negotiation now\r\n" + b.inject)
                await writer.drain()
                await _upgrade(writer, tls, b)
                continue
            writer.write(tag + b" BAD command unknown or arguments invalid\r\n")
            await writer.drain()

    return handler


def pop3(tls: ssl.SSLContext, b: Behaviour) -> ConnectionHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK POP3 server ready\r\n")
        while line := await _line(reader, b):
            if line.strip().upper() == b"STLS" and b.accept:
                writer.write(b"+OK Begin TLS negotiation\r\n" + b.inject)
                await writer.drain()
                await _upgrade(writer, tls, b)
                continue
            writer.write(b"-ERR command not supported\r\n")
            await writer.drain()

    return handler


def ftp(tls: ssl.SSLContext, b: Behaviour) -> ConnectionHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220-Welcome to the file service\r\n  (small print)\r\n220 FTP ready\r\n")
        while line := await _line(reader, b):
            if line.strip().upper() == b"AUTH TLS" and b.accept:
                writer.write(b"234 AUTH TLS successful\r\n" + b.inject)
                await writer.drain()
                await _upgrade(writer, tls, b)
                continue
            writer.write(b"502 command not implemented\r\n")
            await writer.drain()

    return handler


def _ber(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


def ldap_response(code: int, diagnostic: bytes = b"") -> bytes:
    """ExtendedResponse [APPLICATION 24] { resultCode, matchedDN "", diagnosticMessage }."""
    result = _ber(0x0A, bytes([code])) + _ber(0x04, b"") + _ber(0x04, diagnostic)
    return _ber(0x30, _ber(0x02, b"\x01") + _ber(0x78, result))


def ldap(tls: ssl.SSLContext, b: Behaviour) -> ConnectionHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(2)
        request = head + await reader.readexactly(head[1])
        b.seen.append(request)
        if request != LDAP_STARTTLS_REQUEST:
            writer.write(ldap_response(2, b"not the StartTLS request"))
        elif b.accept:
            writer.write(ldap_response(0) + b.inject)
            await writer.drain()
            await _upgrade(writer, tls, b)
            await reader.read(1)
            return
        else:
            writer.write(ldap_response(52, b"TLS is not configured"))
        await writer.drain()
        await reader.read(1)

    return handler


SERVERS = {"smtp": smtp, "imap": imap, "pop3": pop3, "ftp": ftp, "ldap": ldap}
