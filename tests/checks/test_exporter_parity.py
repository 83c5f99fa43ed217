"""Cases blackbox_exporter gets right that vigia got wrong (issue #17): URL forms RFC 3986
allows, a resolver given by name, certificate serials as openssl prints them."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from checks import dns as dns_probe
from checks import http
from checks.context import ProbeContext
from checks.result import Outcome
from checks.specs import DnsSpec, HttpSpec, target_host
from checks.tls import describe_certificate
from tests.checks.dnsserver import serve_dns
from tests.checks.loopback import HttpServer, Reply


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _answer_200(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
async def test_url_with_an_ipv6_literal_loads_and_is_probed(ctx: ProbeContext) -> None:
    server = await asyncio.start_server(_answer_200, "::1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        spec = HttpSpec(url=f"http://[::1]:{port}/")
        verdict = await http.probe(spec, 2.0, ctx, check_id="v6/http")
    finally:
        server.close()
        await server.wait_closed()
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert target_host(spec) == "::1"


@pytest.mark.parametrize("scheme", ["HTTP", "HtTp", "http"])
async def test_scheme_is_case_insensitive(scheme: str, ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as server:
        spec = HttpSpec(url=server.url().replace("http", scheme, 1))
        verdict = await http.probe(spec, 2.0, ctx, check_id="s/http")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert spec.url.startswith("http://")


def test_https_scheme_in_capitals_is_https() -> None:
    assert HttpSpec(url="HtTpS://portal.example/").is_https


@pytest.mark.parametrize(
    "url", ["htp://x", "http://[::1", "http://x:99999/", "http:///path", "http://a b/", "//x/"]
)
def test_malformed_urls_are_still_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not an http\\(s\\) URL"):
        HttpSpec(url=url)


async def test_resolver_given_by_name_is_resolved(ctx: ProbeContext) -> None:
    async with serve_dns() as server:
        server.records[("www.example.org", "A")] = ["192.0.2.1"]
        spec = DnsSpec(name="www.example.org", resolver="localhost", port=server.port)
        verdict = await dns_probe.probe(spec, 2.0, ctx, check_id="s/dns")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["answers"] == ["192.0.2.1"]


async def test_resolver_name_without_address_fails_with_a_reason(ctx: ProbeContext) -> None:
    spec = DnsSpec(name="www.example.org", resolver="no-such-resolver.invalid")
    verdict = await dns_probe.probe(spec, 2.0, ctx, check_id="s/dns")
    assert verdict.outcome is Outcome.FAIL
    assert "no-such-resolver.invalid" in verdict.reason and "has no address" in verdict.reason


def test_resolver_that_is_neither_address_nor_name_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="neither an IP address nor a host name"):
        DnsSpec(name="x.example", resolver="not a host!")


def _certificate(serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serial.example")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("serial", "shown"),
    [
        (0x0BFF12, "0BFF12"),
        (0xBFF1, "BFF1"),
        (0x01, "01"),
        (0x7F00FF00FF00FF00FF, "7F00FF00FF00FF00FF"),
    ],
)
def test_certificate_serial_is_printed_as_openssl_prints_it(serial: int, shown: str) -> None:
    assert describe_certificate(_certificate(serial), "ab")["serial"] == shown
