"""TCP probe: connect, optionally TLS (from the start or after STARTTLS), then a dialogue.

The dialogue (checks/dialogue.py) is the exporter's `query_response`; the simple `send` and
`expect` of a check are a one- or two-step dialogue. STARTTLS exchanges are in
checks/starttls.py, the handshake and the certificate's measurements in checks/tls_session.py.
"""

from __future__ import annotations

import asyncio
import time

from checks import dialogue, starttls
from checks.context import ProbeContext
from checks.dialogue import DialogueFailed, Progress, Step
from checks.ip_family import NoAddressOfFamily, measured_family, open_connection
from checks.lines import MAX_HEARD, LineReader, TooMuch
from checks.result import Measurement, Verdict
from checks.specs import TcpSpec
from checks.starttls import StartTlsRefused
from checks.tls_session import TlsFailed, certificate_measurements, upgrade

_HANDSHAKE = "during the TLS handshake"


class _Conversation:
    """Where a probe is and what it has heard, kept outside the deadline for the reason."""

    def __init__(self) -> None:
        self.phase = "while connecting"
        self.connected = False
        self.lines: LineReader | None = None
        self.progress = Progress()
        self.measurements: dict[str, Measurement] = {}


async def probe(spec: TcpSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    talk = _Conversation()
    try:
        async with asyncio.timeout(timeout):
            await _converse(spec, talk, ctx)
    except TimeoutError:
        return Verdict.fail(_timeout_reason(talk, timeout), **_heard(talk))
    except (DialogueFailed, StartTlsRefused, TlsFailed) as exc:
        return Verdict.fail(str(exc), **_heard(talk))
    except TooMuch:  # only the STARTTLS exchange gets here: a dialogue reports its own
        return Verdict.fail(f"{MAX_HEARD} bytes received {talk.phase}", **_heard(talk))
    except ConnectionRefusedError:
        return Verdict.fail("connection refused", **talk.measurements)
    except OSError as exc:  # unreachable, reset, name resolution
        return Verdict.fail(_os_reason(exc, talk), **_heard(talk))
    return Verdict.ok(**_heard(talk))


async def _converse(spec: TcpSpec, talk: _Conversation, ctx: ProbeContext) -> None:
    start = time.perf_counter()
    reader, writer, fell_back = await open_connection(
        spec.host, spec.port, spec.ip_family, spec.ip_fallback, ctx.resolve
    )
    talk.connected = True
    talk.measurements["connect_time"] = round(time.perf_counter() - start, 6)
    # measured on the plain connection: a TLS upgrade keeps the same socket and peer
    talk.measurements.update(
        measured_family(writer), **({"ip_fallback": True} if fell_back else {})
    )
    lines = talk.lines = LineReader(reader)

    async def to_tls() -> None:
        talk.phase = _HANDSHAKE
        handshake = await upgrade(
            writer, spec.server_name or spec.host, spec.ca_bundle, spec.verify
        )
        talk.measurements["handshake_time"] = handshake
        talk.measurements.update(certificate_measurements(writer, ctx.clock.now()))

    async def step_to_tls(step: Step) -> None:
        if lines.pending:  # bytes before the handshake would pass for TLS-protected ones
            raise DialogueFailed(f"{step.label}: the server sent data before the TLS handshake")
        try:
            await to_tls()
        except TlsFailed as exc:
            raise DialogueFailed(f"{step.label}: {exc}") from None

    try:
        if spec.tls:
            await to_tls()
        elif spec.starttls is not None:
            await starttls.negotiate(spec.starttls, lines, writer, talk)
            await to_tls()
        steps = dialogue.steps_of(spec)
        if steps:
            talk.phase = "during the dialogue"
            await dialogue.run(steps, lines, writer, step_to_tls, talk.progress, spec.step_timeout)
            if any(s.expect is not None or s.literal is not None for s in steps):
                talk.measurements["response_time"] = round(time.perf_counter() - start, 6)
    finally:
        # No wait_closed(): a peer that stops reading must not hold the probe.
        writer.close()


def _heard(talk: _Conversation) -> dict[str, Measurement]:
    if talk.lines is not None and talk.lines.total:
        talk.measurements["bytes_received"] = talk.lines.total
    return talk.measurements


def _timeout_reason(talk: _Conversation, timeout: float) -> str:
    step, lines = talk.progress.step, talk.lines
    if step is not None and lines is not None and talk.phase == "during the dialogue":
        return dialogue.timeout_reason(step, talk.progress.doing, lines, timeout)
    return f"timed out after {timeout:g}s {talk.phase}"


def _os_reason(exc: OSError, talk: _Conversation) -> str:
    where = talk.phase
    if talk.progress.step is not None and where == "during the dialogue":
        where = f"at {talk.progress.step.label}"
    if isinstance(exc, NoAddressOfFamily):
        return str(exc)
    if isinstance(exc, ConnectionResetError):
        return f"connection reset {where}"
    detail = exc.strerror or str(exc) or type(exc).__name__
    return f"connection failed: {detail}" if not talk.connected else f"{detail} {where}"
