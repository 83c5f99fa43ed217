"""TLS probe: handshake (after STARTTLS when asked), chain and hostname, version policy,
expiry, optional pin.

The SOC wants the certificate's details even when it is not trusted, so a failed verification
is followed by a second, unverified handshake that only reads the certificate.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from checks import starttls
from checks.cert_chain import FirstExpiry, counted_chain, first_expiry
from checks.context import ProbeContext
from checks.ip_family import NoAddressOfFamily, measured_family, open_connection
from checks.lines import MAX_HEARD, LineReader, TooMuch
from checks.result import Measurement, Verdict
from checks.specs import TlsSpec
from checks.starttls import StartTlsRefused
from checks.tls_versions import VERSIONS, bound, legacy_versions

_VERSIONS = VERSIONS
_ORDER = list(_VERSIONS)
_HANDSHAKE = "during the TLS handshake"


@dataclass(frozen=True, slots=True)
class _Seen:
    der: bytes
    chain: list[bytes]  # whose expiry counts, leaf first (checks/cert_chain.py)
    version: str
    cipher: str


class _State:
    """Where the probe is and what it learnt, kept outside the deadline for the reason."""

    def __init__(self) -> None:
        self.phase = "while connecting"
        self.problem: str | None = None  # why the verified handshake failed
        self.measurements: dict[str, Measurement] = {}


async def probe(spec: TlsSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    state = _State()
    try:
        async with asyncio.timeout(timeout):  # one deadline for both looks
            seen = await _look(spec, state, ctx)
            if below_policy_probe(spec):
                await _offer_old_versions(spec, state, ctx)
    except TimeoutError:
        return Verdict.fail(_timeout_reason(state, timeout), **state.measurements)
    except StartTlsRefused as exc:  # no TLS to look at: the server said why
        return Verdict.fail(str(exc), **state.measurements)
    except TooMuch:
        return Verdict.fail(f"{MAX_HEARD} bytes received {state.phase}", **state.measurements)
    except ssl.SSLError as exc:  # neither handshake worked: nothing to read
        return Verdict.fail(state.problem or _handshake_reason(exc), **state.measurements)
    except ConnectionRefusedError:
        return Verdict.fail("connection refused", **state.measurements)
    except OSError as exc:
        return Verdict.fail(_os_reason(exc, state), **state.measurements)
    return judge(spec, seen, state, ctx.clock.now())


def below_policy_probe(spec: TlsSpec) -> bool:
    """`max_version` under `min_version`: not a cap on the handshake but a question, asked by
    a second handshake offering only versions up to `max_version`: does the server still
    accept a version the policy forbids? (A SOC finding: TLS 1.0/1.1 still offered.)"""
    return spec.max_version is not None and _ORDER.index(spec.max_version) < _ORDER.index(
        spec.min_version
    )


async def _offer_old_versions(spec: TlsSpec, state: _State, ctx: ProbeContext) -> None:
    assert spec.max_version is not None
    offering = f"offering versions up to {spec.max_version}"
    state.phase = offering
    # the same way in as the first look: a mail relay's old versions sit behind its STARTTLS
    writer = await _connect(spec, state, ctx, measure=False)
    try:
        state.phase = offering
        await writer.start_tls(
            _old_versions_context(spec.max_version),
            server_hostname=spec.server_name or spec.host,
        )
        tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
        accepted = tls.version() or spec.max_version
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError):
        # an alert (protocol version, handshake failure), a reset or a close: refused
        state.measurements["accepts_below_policy"] = False
        return
    finally:
        writer.transport.abort()
    state.measurements["accepts_below_policy"] = True
    state.measurements["below_policy_version"] = accepted


async def _look(spec: TlsSpec, state: _State, ctx: ProbeContext) -> _Seen:
    try:
        cap = None if below_policy_probe(spec) else spec.max_version
        context = _verified_context(spec.ca_bundle, spec.min_version, cap)
        return await _handshake(spec, context, state, ctx)
    except ssl.SSLError as exc:
        state.problem = _handshake_reason(exc)
    except ConnectionResetError:
        if state.phase != _HANDSHAKE:
            raise
        # Some servers reset instead of sending an alert (e.g. no common TLS version).
        state.problem = "TLS handshake failed: connection reset by the server"
    state.measurements["verified"] = False
    return await _handshake(spec, _reading_context(), state, ctx)


async def _handshake(
    spec: TlsSpec, context: ssl.SSLContext, state: _State, ctx: ProbeContext
) -> _Seen:
    state.phase = "while connecting"
    writer = await _connect(spec, state, ctx)
    try:
        state.phase = _HANDSHAKE
        start = time.perf_counter()
        await writer.start_tls(context, server_hostname=spec.server_name or spec.host)
        state.measurements["handshake_time"] = round(time.perf_counter() - start, 6)
        tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True)
        if der is None:
            raise ssl.SSLError("the server sent no certificate")
        cipher = tls.cipher()
        return _Seen(der, counted_chain(tls), tls.version() or "", cipher[0] if cipher else "")
    finally:
        # Abort rather than close: a probe needs no close_notify exchange with the peer.
        writer.transport.abort()


async def _connect(
    spec: TlsSpec, state: _State, ctx: ProbeContext, *, measure: bool = True
) -> asyncio.StreamWriter:
    """A connection of the check's family, through the STARTTLS exchange when asked: ready
    for the handshake. `measure`: record its connect time and family (the below-policy
    question's connection does not: the measurements are the certificate look's)."""
    start = time.perf_counter()
    reader, writer, fell_back = await open_connection(
        spec.host, spec.port, spec.ip_family, spec.ip_fallback, ctx.resolve
    )
    try:
        if measure:
            state.measurements["connect_time"] = round(time.perf_counter() - start, 6)
            state.measurements.update(measured_family(writer))
            if fell_back:
                state.measurements["ip_fallback"] = True
        if spec.starttls is not None:
            await starttls.negotiate(spec.starttls, LineReader(reader), writer, state)
    except BaseException:
        writer.transport.abort()
        raise
    return writer


# --- judging ---------------------------------------------------------------------------------


def judge(spec: TlsSpec, seen: _Seen, state: _State, now: datetime) -> Verdict:
    cert = x509.load_der_x509_certificate(seen.der)
    fingerprint = hashlib.sha256(seen.der).hexdigest()
    state.measurements.setdefault("verified", True)
    m = state.measurements
    m.update(describe_certificate(cert, fingerprint))
    first = first_expiry(seen.chain or [seen.der])
    days = days_left(first, now)
    m.update(expiry_measurements(first, now), tls_version=seen.version, cipher=seen.cipher)
    expiry = first.expiry_text(str(m["not_after"]))
    if days < 0:
        return Verdict.fail(f"certificate expired {_days(-days)} ago ({expiry})", **m)
    reason = (
        _version_failure(spec, seen.version)
        or _below_policy_failure(spec, m)
        or state.problem
        or _pin_failure(spec, fingerprint)
    )
    if reason:
        return Verdict.fail(reason, **m)
    if days < spec.min_days:
        soon = f"certificate expires in {_days(days)} ({expiry}), under {spec.min_days} days"
        return Verdict.degraded(soon, **m)
    return Verdict.ok(**m)


def describe_certificate(cert: x509.Certificate, fingerprint: str) -> dict[str, Measurement]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_text(cert.serial_number),
        "fingerprint_sha256": fingerprint,
        "leaf_not_after": _timestamp(cert.not_valid_after_utc),
    }


def days_left(first: FirstExpiry, now: datetime) -> float:
    return (first.certificate.not_valid_after_utc - now).total_seconds() / 86400


def expiry_measurements(first: FirstExpiry, now: datetime) -> dict[str, Measurement]:
    """`not_after` and `days_left` of the chain's first expiry (they feed the expiry metric
    and alerts), which certificate it is, and the chain's length; the leaf's own date is
    `leaf_not_after`."""
    measured: dict[str, Measurement] = {
        "not_after": _timestamp(first.certificate.not_valid_after_utc),
        "days_left": math.floor(days_left(first, now)),
        "expires_first": first.name,
        "expires_first_role": first.role,
        "chain_length": first.chain_length,
    }
    return measured


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def serial_text(serial: int) -> str:
    """As openssl and CAs print it: upper-case hex of whole bytes, so a leading zero stays."""
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big").hex().upper()


def _version_failure(spec: TlsSpec, negotiated: str) -> str | None:
    if negotiated in _ORDER and _ORDER.index(negotiated) < _ORDER.index(spec.min_version):
        return f"negotiated {negotiated}, policy requires {spec.min_version} or newer"
    return None


def _below_policy_failure(spec: TlsSpec, measured: dict[str, Measurement]) -> str | None:
    # the words "policy requires" raise the TlsVersionBelowPolicy alert (alerting/rules.yaml)
    if not measured.get("accepts_below_policy"):
        return None
    accepted = measured.get("below_policy_version")
    return (
        f"server still accepts {accepted} (offered up to {spec.max_version}), "
        f"policy requires {spec.min_version} or newer"
    )


def _pin_failure(spec: TlsSpec, fingerprint: str) -> str | None:
    pinned = spec.fingerprint_sha256
    if pinned is None or pinned == fingerprint:
        return None
    return f"certificate fingerprint {fingerprint[:16]}… does not match the pin {pinned[:16]}…"


def _days(days: float) -> str:
    whole = math.floor(days)
    return "1 day" if whole == 1 else f"{whole} days"


# --- contexts: built once per (bundle, policy); loading CAs costs milliseconds of CPU -----------


@functools.lru_cache(maxsize=64)
def _verified_context(
    ca_bundle: str | None, min_version: str, max_version: str | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_bundle)
    bound(context, min_version, max_version)
    return context


@functools.lru_cache(maxsize=4)
def _old_versions_context(max_version: str) -> ssl.SSLContext:
    """Offers every version up to `max_version` with every cipher, verifies nothing: it only
    asks whether the server would still talk that way."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    with legacy_versions():
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = _VERSIONS[max_version]
    return context


@functools.lru_cache(maxsize=1)
def _reading_context() -> ssl.SSLContext:
    """Accepts any certificate and any version: only to read what the server presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return context


# --- reasons ---------------------------------------------------------------------------------


def _handshake_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
        return f"certificate verification failed: {detail}"
    detail = (exc.reason or str(exc)).replace("_", " ").lower()
    return f"TLS handshake failed: {detail}"


def _timeout_reason(state: _State, timeout: float) -> str:
    if state.problem:  # the verified handshake already told us what is wrong
        return f"{state.problem} (certificate unread: timed out after {timeout:g}s)"
    return f"timed out after {timeout:g}s {state.phase}"


def _os_reason(exc: OSError, state: _State) -> str:
    if isinstance(exc, NoAddressOfFamily):
        return str(exc)
    if state.problem:
        return state.problem
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"connection reset {state.phase}"
    return f"connection failed: {exc.strerror or exc}"
