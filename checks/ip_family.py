"""Which addresses of a name a probe may connect to: `ip_family` and `fallback` (#17 option 2).

blackbox_exporter's `preferred_ip_protocol` / `ip_protocol_fallback`, with one difference of
default. `ip_family: any` (vigia's default) uses every address the resolver returns, in its
order, a quarter second apart (happy eyeballs), as a browser does: a dual-stack service is up
when a visitor gets through on either family. `ip4` or `ip6` uses only that family's
addresses, so the IPv6 path of a dual-stack service can be watched on its own: a name without
an address of that family fails, unless `fallback: true`, which then uses the other family's
addresses (blackbox_exporter's default is `ip6` with fallback). As in the exporter, fallback is
about resolution only: an address of the family that refuses or times out is the outage the
check is there to see, never a reason to try the other family.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

IpFamily = Literal["ip4", "ip6", "any"]
AddressInfo = tuple[Any, ...]  # as socket.getaddrinfo gives it: family, type, proto, _, address
Resolver = Callable[[str, int], Awaitable[list[AddressInfo]]]

_SOCKET_FAMILY = {"ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_WORDS = {"ip4": "IPv4", "ip6": "IPv6"}


class NoAddressOfFamily(OSError):
    """The name resolved, but not to an address of the family the check asks for."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The addresses to try, in order, and whether they are the other family's (fallback)."""

    addresses: list[AddressInfo]
    fell_back: bool = False


def family_of(address: str) -> Literal["ip4", "ip6"]:
    """`ip4` or `ip6` for an address as a socket reports it."""
    return "ip6" if ":" in address else "ip4"


def socket_family(family: IpFamily) -> int:
    """The `family` argument of getaddrinfo: AF_UNSPEC for `any`."""
    return _SOCKET_FAMILY.get(family, socket.AF_UNSPEC)


def literal_family(host: str) -> Literal["ip4", "ip6"] | None:
    """The family of an IP literal (brackets allowed), None for a name."""
    try:
        return "ip6" if ipaddress.ip_address(host.strip("[]")).version == 6 else "ip4"
    except ValueError:
        return None


def literal_problem(host: str, family: IpFamily, fallback: bool | None) -> str | None:
    """Why an IP literal can never satisfy the family (a load-time error), or None."""
    found = literal_family(host)
    if family == "any" or found is None or found == family or fallback:
        return None
    return f"{host} is an {_WORDS[found]} address, but ip_family is {family} (without fallback)"


def choose(addresses: list[AddressInfo], host: str, family: IpFamily, fallback: bool) -> Choice:
    """The addresses of `family` among `addresses`, else (with `fallback`) the others."""
    if family == "any":
        return Choice(addresses)
    wanted = [a for a in addresses if a[0] == _SOCKET_FAMILY[family]]
    if wanted:
        return Choice(wanted)
    if fallback and addresses:
        return Choice(addresses, fell_back=True)
    raise NoAddressOfFamily(f"{host} has no {_WORDS[family]} address (ip_family: {family})")


async def resolve(
    host: str,
    port: int,
    family: IpFamily,
    fallback: bool,
    resolver: Resolver | None = None,
    kind: int = socket.SOCK_STREAM,
) -> Choice:
    """Resolve `host` (an IP literal costs no resolver call) and choose its addresses."""
    literal = literal_family(host)
    if literal is not None:
        bare = host.strip("[]")
        info = (_SOCKET_FAMILY[literal], kind, 0, "", (bare, port))
        return choose([info], host, family, fallback)
    if resolver is not None:
        found = await resolver(host, port)
    else:
        # without fallback only the family's records are asked for, as the exporter does
        ask = socket_family(family) if not fallback else socket.AF_UNSPEC
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(host, port, family=ask, type=kind)
        except socket.gaierror:
            if ask == socket.AF_UNSPEC:
                raise
            found = []  # the name may exist in the other family: say which one is missing
    return choose(found, host, family, fallback)


async def open_connection(
    host: str, port: int, family: IpFamily, fallback: bool, resolver: Resolver | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
    """asyncio's `open_connection` to the addresses the family allows, tried in order; and
    whether they were the fallback family's. `any` leaves the choice to asyncio, as before."""
    if family == "any" and resolver is None:
        reader, writer = await asyncio.open_connection(host, port)
        return reader, writer, False
    choice = await resolve(host, port, family, fallback, resolver)
    error: OSError | None = None
    for info in choice.addresses:
        try:
            reader, writer = await asyncio.open_connection(info[4][0], port)
        except OSError as exc:
            error = exc
            continue
        return reader, writer, choice.fell_back
    raise error or NoAddressOfFamily(f"{host} has no address")


def measured_family(writer: asyncio.StreamWriter) -> dict[str, str]:
    """`ip_family` of a connected stream, for the probe's measurements."""
    peer = writer.get_extra_info("peername")
    return {"ip_family": family_of(str(peer[0]))} if peer else {}
