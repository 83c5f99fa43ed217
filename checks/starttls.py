"""The plain-text exchange before TLS on SMTP, IMAP, POP3, LDAP and FTP (RFC 3207, 3501,
2595, 4511 §4.14, 4217), as a client that then wants the server's certificate.

Each exchange reads the greeting first (an early talker is dropped by many mail servers),
asks for TLS and checks the server accepted. Nothing the server sends after accepting may be
left unread: bytes waiting before the handshake would be read as if they came over TLS (the
STARTTLS response-injection flaw), so they fail the probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from checks.lines import LineReader, quote

NAMES = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3", "ldap": "LDAP", "ftp": "FTP"}
EHLO_NAME = "vigia.probe"
_IMAP_TAG = "V1"
_LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_LDAP_RESULTS = {0: "success", 1: "operationsError", 2: "protocolError", 52: "unavailable"}


class Phase(Protocol):
    phase: str  # where the probe is, for a timeout's reason


class StartTlsRefused(Exception):
    """The server did not agree to TLS; the message is the reason, ready for a verdict."""


async def negotiate(
    protocol: str, lines: LineReader, writer: asyncio.StreamWriter, state: Phase
) -> None:
    name = NAMES[protocol]

    def waiting(what: str) -> None:
        state.phase = f"during the {name} STARTTLS exchange (waiting for {what})"

    await _EXCHANGES[protocol](lines, _Say(writer), waiting)
    if lines.pending:
        raise StartTlsRefused(
            f"STARTTLS ({protocol}): the server sent data after accepting TLS, before the "
            f"handshake ({quote(lines.pending.decode('utf-8', 'replace'))}): refused as "
            "a response injection"
        )


class _Say:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def __call__(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()


Waiting = Callable[[str], None]
Exchange = Callable[[LineReader, _Say, Waiting], Awaitable[None]]


def _refused(protocol: str, what: str, answer: str | None) -> StartTlsRefused:
    heard = quote(answer) if answer is not None else "nothing (connection closed)"
    return StartTlsRefused(f"STARTTLS ({protocol}): {what}, the server answered {heard}")


# --- SMTP and FTP: three-digit replies, "250-" continues, "250 " ends ------------------------


async def _reply(lines: LineReader) -> tuple[str, list[str]]:
    """A whole multi-line reply: its code and its lines ('' and [] when the stream ended)."""
    got: list[str] = []
    while (line := await lines.line()) is not None:
        got.append(line)
        if len(line) >= 3 and line[:3].isdigit() and line[3:4] != "-":
            return line[:3], got
    return "", got


def _last(got: list[str]) -> str | None:
    return got[-1] if got else None


async def _smtp(lines: LineReader, say: _Say, waiting: Waiting) -> None:
    waiting("the greeting")
    code, got = await _reply(lines)
    if code != "220":
        raise _refused("smtp", "no 220 greeting", _last(got))
    await say(f"EHLO {EHLO_NAME}\r\n".encode())
    waiting("the EHLO answer")
    code, got = await _reply(lines)
    if code != "250":
        raise _refused("smtp", "EHLO not accepted", _last(got))
    if not any(line[4:].strip().upper().split()[:1] == ["STARTTLS"] for line in got):
        raise StartTlsRefused(
            f"STARTTLS (smtp): the server does not offer STARTTLS (EHLO answered {len(got)} "
            f"line(s), the last {quote(got[-1])})"
        )
    await say(b"STARTTLS\r\n")
    waiting("the STARTTLS answer")
    code, got = await _reply(lines)
    if code != "220":
        raise _refused("smtp", "STARTTLS refused", _last(got))


async def _ftp(lines: LineReader, say: _Say, waiting: Waiting) -> None:
    waiting("the greeting")
    code, got = await _reply(lines)
    if code != "220":
        raise _refused("ftp", "no 220 greeting", _last(got))
    await say(b"AUTH TLS\r\n")
    waiting("the AUTH TLS answer")
    code, got = await _reply(lines)
    if code != "234":
        raise _refused("ftp", "AUTH TLS refused", _last(got))


# --- POP3 and IMAP ---------------------------------------------------------------------------


async def _pop3(lines: LineReader, say: _Say, waiting: Waiting) -> None:
    waiting("the greeting")
    greeting = await lines.line()
    if greeting is None or not greeting.startswith("+OK"):
        raise _refused("pop3", "no +OK greeting", greeting)
    await say(b"STLS\r\n")
    waiting("the STLS answer")
    answer = await lines.line()
    if answer is None or not answer.startswith("+OK"):
        raise _refused("pop3", "STLS refused", answer)


async def _imap(lines: LineReader, say: _Say, waiting: Waiting) -> None:
    waiting("the greeting")
    greeting = await lines.line()
    if greeting is None or not greeting.upper().startswith("* OK"):
        raise _refused("imap", "no '* OK' greeting", greeting)
    await say(f"{_IMAP_TAG} STARTTLS\r\n".encode())
    waiting("the STARTTLS answer")
    while (line := await lines.line()) is not None and not line.startswith(f"{_IMAP_TAG} "):
        pass  # untagged lines (a CAPABILITY) may come first
    if line is None or not line[len(_IMAP_TAG) + 1 :].upper().startswith("OK"):
        raise _refused("imap", "STARTTLS refused", line)


# --- LDAP: an ExtendedRequest in BER, five fields written by hand ----------------------------


def ldap_starttls_request(message_id: int = 1) -> bytes:
    """LDAPMessage { messageID, [APPLICATION 23] ExtendedRequest { [0] requestName } }."""
    name = _tlv(0x80, _LDAP_STARTTLS_OID)
    return _tlv(0x30, _tlv(0x02, bytes([message_id])) + _tlv(0x77, name))


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    length = bytes([size]) if size < 0x80 else bytes([0x81, size])  # all we send is < 256
    return bytes([tag]) + length + value


async def _read_message(lines: LineReader) -> bytes | None:
    """One BER element from the stream (tag, definite length, value): an LDAPMessage."""
    head = await lines.exactly(2)
    if head is None:
        return None
    size = head[1]
    if size & 0x80:
        count = size & 0x7F
        extra = await lines.exactly(count) if 0 < count <= 4 else None
        if extra is None:
            return None
        size = int.from_bytes(extra, "big")
    return await lines.exactly(size) if head[0] == 0x30 else None


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) elements one after another in `data`."""
    found, at = [], 0
    while at + 2 <= len(data):
        tag, size, at = data[at], data[at + 1], at + 2
        if size & 0x80:
            count = size & 0x7F
            size, at = int.from_bytes(data[at : at + count], "big"), at + count
        found.append((tag, data[at : at + size]))
        at += size
    return found


def ldap_result(message: bytes) -> tuple[int, str] | None:
    """The resultCode and diagnosticMessage of an ExtendedResponse; None if it is not one."""
    parts = _elements(message)
    response = next((value for tag, value in parts if tag == 0x78), None)
    if response is None:
        return None
    fields = _elements(response)
    if len(fields) < 3 or fields[0][0] != 0x0A:
        return None
    code = int.from_bytes(fields[0][1], "big")
    return code, fields[2][1].decode("utf-8", errors="replace")


async def _ldap(lines: LineReader, say: _Say, waiting: Waiting) -> None:
    await say(ldap_starttls_request())  # LDAP servers do not greet: the client speaks first
    waiting("the ExtendedResponse")
    message = await _read_message(lines)
    result = ldap_result(message) if message is not None else None
    if result is None:
        raise StartTlsRefused(
            "STARTTLS (ldap): no ExtendedResponse to the StartTLS request"
            + (" (connection closed)" if message is None else "")
        )
    code, diagnostic = result
    if code != 0:
        meaning = _LDAP_RESULTS.get(code, "error")
        said = f" {quote(diagnostic)}" if diagnostic else ""
        raise StartTlsRefused(f"STARTTLS (ldap) refused: resultCode {code} ({meaning}){said}")


_EXCHANGES: dict[str, Exchange] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ldap": _ldap,
    "ftp": _ftp,
}
