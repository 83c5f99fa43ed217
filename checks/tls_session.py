"""TLS on a tcp connection (from the start, or after STARTTLS) and what its certificate says.

The measurements are the `tls` check's (subject, serial, the chain's first expiry), so the
expiry metric and alerts read a tcp check with TLS as they read a tls check.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ssl
import time
from collections.abc import Iterator
from datetime import datetime

from cryptography import x509

from checks.cert_chain import counted_chain, first_expiry
from checks.result import Measurement
from checks.tls import describe_certificate, expiry_measurements


class TlsFailed(Exception):
    """The handshake failed; the message is the reason, ready for a verdict."""


@contextlib.contextmanager
def handshake_reasons() -> Iterator[None]:
    """ssl's errors during a handshake as TlsFailed, with a reason a reader can act on."""
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        detail = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
        raise TlsFailed(f"certificate verification failed: {detail}") from None
    except ssl.SSLError as exc:
        detail = (exc.reason or str(exc)).replace("_", " ").lower()
        raise TlsFailed(f"TLS handshake failed: {detail}") from None


async def upgrade(
    writer: asyncio.StreamWriter, server_name: str, ca_bundle: str | None, verify: bool
) -> float:
    """The TLS handshake on an open connection; returns its duration in seconds."""
    start = time.perf_counter()
    with handshake_reasons():
        await writer.start_tls(client_context(ca_bundle, verify), server_hostname=server_name)
    return round(time.perf_counter() - start, 6)


def certificate_measurements(writer: asyncio.StreamWriter, now: datetime) -> dict[str, Measurement]:
    tls: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls else None
    if tls is None or der is None:
        return {}
    cert = x509.load_der_x509_certificate(der)
    measured = describe_certificate(cert, hashlib.sha256(der).hexdigest())
    measured.update(expiry_measurements(first_expiry(counted_chain(tls) or [der]), now))
    cipher = tls.cipher()
    measured.update(tls_version=tls.version() or "", cipher=cipher[0] if cipher else "")
    return measured


@functools.lru_cache(maxsize=64)
def client_context(ca_bundle: str | None, verify: bool) -> ssl.SSLContext:
    """Built once per (bundle, verify): loading CAs costs milliseconds of CPU."""
    if verify:
        return ssl.create_default_context(cafile=ca_bundle)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
