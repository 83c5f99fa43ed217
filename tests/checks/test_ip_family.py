"""`ip_family` and `fallback` (#17 option 2) on the http, tcp, tls and dns probes, against real
servers on ::1 only or 127.0.0.1 only, reached through a name the test resolves to both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from checks import dns as dns_probe
from checks import http, tcp, tls
from checks.context import ProbeContext
from checks.http_backend import AsyncioBackend
from checks.http_clients import HttpClientPool
from checks.ip_family import AddressInfo, Resolver
from checks.result import Outcome, Verdict
from checks.specs import DnsSpec, HttpSpec, TcpSpec, TlsSpec
from tests.checks.dnsserver import DnsServer, _tcp_client, _Udp
from tests.checks.loopback import Pki
from tests.checks.starttls_servers import SERVERS, Behaviour


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1 on lo)"
)

DUAL = "dual.test"  # AAAA ::1 and A 127.0.0.1
V4_ONLY = "v4only.test"  # A 127.0.0.1 only
NAMES = {DUAL: ["::1", "127.0.0.1"], V4_ONLY: ["127.0.0.1"], "ns.test": ["::1", "127.0.0.1"]}


def table_resolver(table: dict[str, list[str]]) -> Resolver:
    """The test's own name service: what a dual-stack DNS would answer, in that order."""

    async def resolve(host: str, port: int) -> list[AddressInfo]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port),
            )
            for a in table[host]
        ]

    return resolve


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    resolve = table_resolver(NAMES)
    context = ProbeContext(
        http=HttpClientPool(backend=AsyncioBackend(resolve)),
        heartbeats=None,  # type: ignore[arg-type]
        resolve=resolve,
    )
    yield context
    await context.aclose()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]


async def _http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    writer.close()


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 relay ready\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
        await reader.read(100)
    writer.close()


@contextlib.asynccontextmanager
async def listening(host: str, handler: Handler, **kwargs: Any) -> AsyncIterator[int]:
    """A server on one address only; yields its port (free on the other family: refused).
    Every connection it served is aborted, and every handler still running (a STARTTLS server
    waiting in its handshake) cancelled, on exit."""
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # our own teardown: ending normally keeps asyncio.streams (3.11) quiet
        finally:
            tasks.discard(task)
            if writer.transport is not None:  # None: uvloop's start_tls on a closed peer
                writer.transport.abort()

    server = await asyncio.start_server(serve, host, 0, **kwargs)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for writer in writers:
            if writer.transport is not None:
                writer.transport.abort()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def get(ctx: ProbeContext, url: str, **options: Any) -> Verdict:
    return await http.probe(HttpSpec(url=url, **options), 2.0, ctx, check_id="svc/http")


# --- http ------------------------------------------------------------------------------------


async def test_ip6_watches_the_ipv6_path_alone(ctx: ProbeContext) -> None:
    async with listening("127.0.0.1", _http_ok) as port:  # the IPv6 listener is gone
        url = f"http://{DUAL}:{port}/"
        v6 = await get(ctx, url, ip_family="ip6")
        v6_fallback = await get(ctx, url, ip_family="ip6", fallback=True)
        v4 = await get(ctx, url, ip_family="ip4")
        either = await get(ctx, url)
    assert v6.outcome is Outcome.FAIL and v6.reason == "connection refused"
    # fallback is about resolution: a refused IPv6 address is the outage, not a reason to switch
    assert v6_fallback.reason == "connection refused"
    assert (v4.outcome, v4.measurements["ip_family"]) == (Outcome.OK, "ip4")
    # any: happy eyeballs, as a browser: up on IPv4 after [::1] refused
    assert (either.outcome, either.measurements["ip_family"]) == (Outcome.OK, "ip4")


async def test_ip4_watches_the_ipv4_path_alone(ctx: ProbeContext) -> None:
    async with listening("::1", _http_ok) as port:
        url = f"http://{DUAL}:{port}/"
        v4 = await get(ctx, url, ip_family="ip4")
        v6 = await get(ctx, url, ip_family="ip6")
    assert v4.reason == "connection refused"
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6")
    assert "ip_fallback" not in v6.measurements


async def test_a_name_without_the_family_fails_unless_fallback(ctx: ProbeContext) -> None:
    async with listening("127.0.0.1", _http_ok) as port:
        url = f"http://{V4_ONLY}:{port}/"
        strict = await get(ctx, url, ip_family="ip6")
        lenient = await get(ctx, url, ip_family="ip6", fallback=True)
    assert strict.outcome is Outcome.FAIL
    assert strict.reason == "v4only.test has no IPv6 address (ip_family: ip6)"  # no "refused"
    assert lenient.outcome is Outcome.OK, lenient.reason
    assert lenient.measurements["ip_family"] == "ip4"
    assert lenient.measurements["ip_fallback"] is True


async def test_keep_alive_pools_of_two_families_are_not_shared(ctx: ProbeContext) -> None:
    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

    async with listening("::1", keep_alive) as port:
        url = f"http://{DUAL}:{port}/"
        first = await get(ctx, url, ip_family="ip6", reuse_connection=True)
        # same origin, other family: must not ride the IPv6 connection kept alive above
        other = await get(ctx, url, ip_family="ip4", reuse_connection=True)
    assert first.outcome is Outcome.OK, first.reason
    assert other.reason == "connection refused"


async def test_an_ipv6_literal_and_a_real_name_report_their_family() -> None:
    context = ProbeContext(http=HttpClientPool(), heartbeats=None)  # type: ignore[arg-type]
    try:
        async with listening("::1", _http_ok) as port:
            literal = await get(context, f"http://[::1]:{port}/", ip_family="ip6")
        async with listening("127.0.0.1", _http_ok) as port:
            # the system's resolver: localhost has an IPv4 address everywhere
            named = await get(context, f"http://localhost:{port}/", ip_family="ip4")
    finally:
        await context.aclose()
    assert (literal.outcome, literal.measurements["ip_family"]) == (Outcome.OK, "ip6")
    assert (named.outcome, named.measurements["ip_family"]) == (Outcome.OK, "ip4")


# --- tcp and tls -----------------------------------------------------------------------------


async def test_tcp_probe_takes_the_family_asked_for(ctx: ProbeContext) -> None:
    async with listening("::1", _banner) as port:
        v6 = await tcp.probe(
            TcpSpec(host=DUAL, port=port, expect="220", ip_family="ip6"), 2.0, ctx, check_id="t"
        )
        v4 = await tcp.probe(TcpSpec(host=DUAL, port=port, ip_family="ip4"), 2.0, ctx, check_id="t")
    async with listening("127.0.0.1", _banner) as port:
        fallback = await tcp.probe(
            TcpSpec(host=V4_ONLY, port=port, ip_family="ip6", fallback=True),
            2.0,
            ctx,
            check_id="t",
        )
        missing = await tcp.probe(
            TcpSpec(host=V4_ONLY, port=port, ip_family="ip6"), 2.0, ctx, check_id="t"
        )
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v4.reason == "connection refused"
    assert fallback.measurements["ip_family"] == "ip4"
    assert fallback.measurements["ip_fallback"] is True
    assert missing.reason == "v4only.test has no IPv6 address (ip_family: ip6)"


async def test_tls_probe_reads_the_certificate_over_the_family_asked_for(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    context = pki.server_context(DUAL)
    async with listening("::1", _banner, ssl=context) as port:
        spec = TlsSpec(host=DUAL, port=port, ca_bundle=pki.ca_bundle, ip_family="ip6")
        v6 = await tls.probe(spec, 2.0, ctx, check_id="t")
        v4 = await tls.probe(spec.model_copy(update={"ip_family": "ip4"}), 2.0, ctx, check_id="t")
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v4.reason == "connection refused"


async def test_tcp_with_tls_connects_over_the_family_and_reports_it(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    relay = Behaviour()
    tls_from_start = listening("::1", _banner, ssl=pki.server_context(DUAL))
    async with (
        tls_from_start as port,
        listening("::1", SERVERS["smtp"](pki.server_context(DUAL), relay)) as smtp,
    ):
        implicit = TcpSpec(host=DUAL, port=port, tls=True, ca_bundle=pki.ca_bundle, ip_family="ip6")
        v6 = await tcp.probe(implicit.model_copy(update={"expect": "220"}), 2.0, ctx, check_id="t")
        v4 = await tcp.probe(
            implicit.model_copy(update={"ip_family": "ip4"}), 2.0, ctx, check_id="t"
        )
        upgraded = TcpSpec(
            host=DUAL, port=smtp, starttls="smtp", ca_bundle=pki.ca_bundle, ip_family="ip6"
        )
        starttls = await tcp.probe(upgraded, 2.0, ctx, check_id="t")
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v6.measurements["tls_version"] and v6.measurements["days_left"]  # TLS was read
    assert v4.reason == "connection refused"
    assert (starttls.outcome, starttls.measurements["ip_family"]) == (Outcome.OK, "ip6")
    assert relay.upgraded == 1 and "subject" in starttls.measurements


async def test_tls_check_starttls_over_the_family_asked_for(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    relay = Behaviour()
    async with listening("::1", SERVERS["smtp"](pki.server_context(DUAL), relay)) as port:
        spec = TlsSpec(host=DUAL, port=port, starttls="smtp", ca_bundle=pki.ca_bundle)
        v6 = await tls.probe(spec.model_copy(update={"ip_family": "ip6"}), 2.0, ctx, check_id="t")
        v4 = await tls.probe(spec.model_copy(update={"ip_family": "ip4"}), 2.0, ctx, check_id="t")
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v4.reason == "connection refused"
    assert relay.upgraded == 1


# --- dns -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def dns_on_ipv6_loopback() -> AsyncIterator[DnsServer]:
    """The tests' DNS server, over UDP on [::1] only."""
    server = DnsServer(records={("www.example.org", "A"): ["192.0.2.1"]})
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(server), local_addr=("::1", 0))
    server.port = transport.get_extra_info("sockname")[1]
    try:
        yield server
    finally:
        transport.close()


async def test_dns_probe_asks_the_resolver_over_the_family_asked_for(ctx: ProbeContext) -> None:
    async with dns_on_ipv6_loopback() as server:
        spec = DnsSpec(name="www.example.org", resolver="ns.test", port=server.port)
        v6 = await dns_probe.probe(
            spec.model_copy(update={"ip_family": "ip6"}), 1.0, ctx, check_id="d"
        )
        v4 = await dns_probe.probe(
            spec.model_copy(update={"ip_family": "ip4"}), 0.5, ctx, check_id="d"
        )
        literal = await dns_probe.probe(
            DnsSpec(name="www.example.org", resolver="::1", port=server.port, ip_family="ip6"),
            1.0,
            ctx,
            check_id="d",
        )
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v6.measurements["answers"] == ["192.0.2.1"]
    assert v4.outcome is Outcome.FAIL and "127.0.0.1" in v4.reason
    assert literal.measurements["ip_family"] == "ip6"
    assert server.queries == [("udp", "www.example.org", "A")] * 2


async def test_dns_over_tls_asks_the_resolver_over_the_family_asked_for(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    server = DnsServer(records={("www.example.org", "A"): ["192.0.2.1"]})

    async def dot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _tcp_client(server, reader, writer, "tls")

    # the certificate names the resolver as the catalogue writes it (the SNI), not [::1]
    async with listening("::1", dot, ssl=pki.server_context("ns.test")) as port:
        spec = DnsSpec(
            name="www.example.org", resolver="ns.test", port=port, protocol="tls",
            ca_bundle=pki.ca_bundle,
        )  # fmt: skip
        v6 = await dns_probe.probe(
            spec.model_copy(update={"ip_family": "ip6"}), 2.0, ctx, check_id="d"
        )
        v4 = await dns_probe.probe(
            spec.model_copy(update={"ip_family": "ip4"}), 2.0, ctx, check_id="d"
        )
    assert (v6.outcome, v6.measurements["ip_family"]) == (Outcome.OK, "ip6"), v6.reason
    assert v6.measurements["answers"] == ["192.0.2.1"]
    assert v4.outcome is Outcome.FAIL and "127.0.0.1" in v4.reason, v4.reason
    assert server.queries == [("tls", "www.example.org", "A")]


# --- load-time errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (HttpSpec, {"url": "http://127.0.0.1/", "ip_family": "ip6"}, "127.0.0.1 is an IPv4"),
        (HttpSpec, {"url": "http://[::1]/", "ip_family": "ip4"}, "::1 is an IPv6"),
        (TcpSpec, {"host": "10.0.0.1", "port": 25, "ip_family": "ip6"}, "is an IPv4 address"),
        (DnsSpec, {"name": "x", "resolver": "::1", "ip_family": "ip4"}, "is an IPv6 address"),
        (TlsSpec, {"host": "x", "fallback": True}, "fallback needs ip_family ip4 or ip6"),
        (TlsSpec, {"host": "x", "ip_family": "ipv6"}, "'ip4', 'ip6' or 'any'"),
        (TcpSpec, {"host": "x", "port": 1, "ip_family": "ip6", "fallback": "sometimes"}, "bool"),
    ],
)
def test_impossible_family_settings_are_refused_at_load(
    model: type[Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model(**options)
    assert message in str(caught.value)


def test_a_literal_of_the_other_family_is_fine_with_fallback() -> None:
    assert HttpSpec(url="http://127.0.0.1/", ip_family="ip6", fallback=True).ip_fallback
