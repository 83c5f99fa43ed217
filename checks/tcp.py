"""TCP probe: connect, optionally send a line, optionally expect a substring in the answer."""

from __future__ import annotations

import asyncio
import time

from checks.context import ProbeContext
from checks.ip_family import NoAddressOfFamily, measured_family, open_connection
from checks.result import Measurement, Verdict
from checks.specs import TcpSpec

# What a banner/answer may grow to before we stop reading: enough for any greeting.
_MAX_RECEIVE = 65_536
_SNIPPET = 60


class _Conversation:
    """Where a probe is and what it has heard, kept outside the deadline for the reason."""

    def __init__(self) -> None:
        self.phase = "while connecting"
        self.connected = False
        self.received = bytearray()
        self.measurements: dict[str, Measurement] = {}


async def probe(spec: TcpSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    talk = _Conversation()
    try:
        async with asyncio.timeout(timeout):
            return await _converse(spec, talk, ctx)
    except TimeoutError:
        return Verdict.fail(_timeout_reason(spec, talk, timeout), **talk.measurements)
    except ConnectionRefusedError:
        return Verdict.fail("connection refused", **talk.measurements)
    except OSError as exc:  # unreachable, reset, name resolution
        return Verdict.fail(_os_reason(exc, talk), **talk.measurements)


async def _converse(spec: TcpSpec, talk: _Conversation, ctx: ProbeContext) -> Verdict:
    start = time.perf_counter()
    reader, writer, fell_back = await open_connection(
        spec.host, spec.port, spec.ip_family, spec.ip_fallback, ctx.resolve
    )
    talk.connected = True
    talk.measurements["connect_time"] = round(time.perf_counter() - start, 6)
    talk.measurements.update(
        measured_family(writer), **({"ip_fallback": True} if fell_back else {})
    )
    try:
        if spec.send is not None:
            talk.phase = "while sending"
            writer.write(spec.send.encode())
            await writer.drain()
        if spec.expect is None:
            return Verdict.ok(**talk.measurements)
        talk.phase = f"waiting for {_quote(spec.expect)}"
        return await _expect(reader, spec.expect, talk, start)
    finally:
        # No wait_closed(): a peer that stops reading must not hold the probe.
        writer.close()


async def _expect(
    reader: asyncio.StreamReader, expected: str, talk: _Conversation, start: float
) -> Verdict:
    wanted = expected.encode()
    while wanted not in talk.received:
        if len(talk.received) >= _MAX_RECEIVE:
            received = _quote(_text(talk.received))
            return Verdict.fail(
                f"banner mismatch: expected {_quote(expected)}, received {received}",
                **talk.measurements,
            )
        chunk = await reader.read(_MAX_RECEIVE - len(talk.received))
        if not chunk:
            return Verdict.fail(
                f"connection closed before {_quote(expected)} arrived ({_heard(talk)})",
                **talk.measurements,
            )
        talk.received += chunk
        talk.measurements["bytes_received"] = len(talk.received)
    talk.measurements["response_time"] = round(time.perf_counter() - start, 6)
    return Verdict.ok(**talk.measurements)


def _timeout_reason(spec: TcpSpec, talk: _Conversation, timeout: float) -> str:
    after = f"timed out after {timeout:g}s"
    if spec.expect is None or not talk.phase.startswith("waiting"):
        return f"{after} {talk.phase}"
    if not talk.received:
        return f"{after} {talk.phase} (nothing received)"
    # Something came back, just not what was expected: that is the news.
    received = _quote(_text(talk.received))
    return (
        f"banner mismatch after {timeout:g}s: expected {_quote(spec.expect)}, received {received}"
    )


def _os_reason(exc: OSError, talk: _Conversation) -> str:
    if isinstance(exc, NoAddressOfFamily):
        return str(exc)
    if isinstance(exc, ConnectionResetError):
        return f"connection reset {talk.phase}"
    detail = exc.strerror or str(exc) or type(exc).__name__
    return f"connection failed: {detail}" if not talk.connected else f"{detail} {talk.phase}"


def _heard(talk: _Conversation) -> str:
    return f"received {_quote(_text(talk.received))}" if talk.received else "nothing received"


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _quote(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…")
