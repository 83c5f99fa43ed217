"""The worker verifies the core's certificate (issue #14): its private CA is trusted, any other
certificate is refused before a byte of the token or a result is sent."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from agent.locations.core_client import CoreClient, CoreUnreachable

ASSIGNMENT = b'{"location": "porto", "version": "v1", "catalog": "version: 1\\n"}'


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[bytes]]]:
    """A TLS server on loopback signed by a private CA: its URL, the CA file, what it read."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.readuntil(b"\r\n\r\n"))
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            writer.write(head + b"Content-Length: %d\r\n\r\n%s" % (len(ASSIGNMENT), ASSIGNMENT))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client refused the certificate
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}", ca_file, received


async def test_the_private_ca_is_trusted(core: tuple[str, Path, list[bytes]]) -> None:
    url, ca_file, received = core
    client = CoreClient(url, "tok-secret-1", str(ca_file))
    try:
        assignment = await client.assignment()
    finally:
        await client.close()
    assert assignment.location == "porto"
    assert b"Bearer tok-secret-1" in received[0]


async def test_a_certificate_of_another_ca_is_refused_and_the_token_never_sent(
    core: tuple[str, Path, list[bytes]], tmp_path: Path
) -> None:
    url, _ca_file, received = core
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    for ca in (str(other), None):  # a wrong private CA, and the system's CAs only
        client = CoreClient(url, "tok-secret-2", ca)
        try:
            with pytest.raises(CoreUnreachable, match="CERTIFICATE_VERIFY_FAILED") as refused:
                await client.assignment()
        finally:
            await client.close()
        assert "tok-secret-2" not in str(refused.value)
    assert received == []
