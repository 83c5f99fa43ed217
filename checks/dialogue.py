"""A tcp dialogue: ordered steps of expect (a regex on each line heard), send and STARTTLS.

The exporter's `query_response` semantics: an `expect` reads lines until one matches (lines
that do not match are passed over: a multi-line greeting, a banner's small print); the send
that follows may use the groups of the latest match, `${1}`, `${0}` the whole line's match. A
dialogue may begin with an expect, so servers that drop clients speaking before their greeting
(many SMTP servers) are probed as they want. The simple `send`/`expect` of a tcp check is a
dialogue too: its `expect` is a substring found anywhere in the answer, as it always was.

Reasons name the failing step and quote what the server said, never what was sent (a send may
hold a secret, and so may what a capture put into it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from checks.lines import MAX_HEARD, LineReader, TooMuch, quote
from checks.specs import TcpSpec

_CAPTURE = re.compile(r"\$\{(\d+)\}")


@dataclass(frozen=True, slots=True)
class Step:
    number: int  # from 1, as people count them in a reason
    expect: re.Pattern[str] | None = None
    send: str | None = None
    starttls: bool = False
    timeout: float | None = None
    literal: str | None = None  # the simple form's `expect`: a substring, not a regex
    simple: bool = False  # from the simple `send`/`expect`: reasons worded as they always were

    @property
    def label(self) -> str:
        what = [f"expect /{self.expect.pattern}/"] if self.expect is not None else []
        what += ["send"] if self.send is not None else []
        what += ["starttls"] if self.starttls else []
        return f"step {self.number} ({', '.join(what)})"


def steps_of(spec: TcpSpec) -> list[Step]:
    if spec.steps:
        return [
            Step(
                number,
                re.compile(step.expect) if step.expect is not None else None,
                step.send,
                step.starttls,
                step.timeout,
            )
            for number, step in enumerate(spec.steps, 1)
        ]
    simple: list[Step] = []
    if spec.send is not None:
        simple.append(Step(len(simple) + 1, send=spec.send, simple=True))
    if spec.expect is not None:
        simple.append(Step(len(simple) + 1, literal=spec.expect, simple=True))
    return simple


class DialogueFailed(Exception):
    """A step did not get what it waited for; the message is the reason."""


@dataclass
class Progress:
    """Where the dialogue is, kept outside the deadline for a timeout's reason."""

    step: Step | None = None
    doing: str = ""  # "expect", "send", "starttls"


Upgrade = Callable[[Step], Awaitable[None]]


async def run(
    steps: list[Step],
    lines: LineReader,
    writer: asyncio.StreamWriter,
    upgrade: Upgrade,
    progress: Progress,
    step_timeout: float | None,
) -> None:
    match: re.Match[str] | None = None
    for step in steps:
        progress.step = step
        lines.new_step()
        limit = step.timeout or step_timeout
        try:
            if limit is None:
                match = await _step(step, lines, writer, upgrade, progress, match)
            else:
                async with asyncio.timeout(limit):
                    match = await _step(step, lines, writer, upgrade, progress, match)
        except TimeoutError:
            assert limit is not None
            raise DialogueFailed(timeout_reason(step, progress.doing, lines, limit)) from None
    progress.step = None


async def _step(
    step: Step,
    lines: LineReader,
    writer: asyncio.StreamWriter,
    upgrade: Upgrade,
    progress: Progress,
    match: re.Match[str] | None,
) -> re.Match[str] | None:
    progress.doing = "expect"
    if step.literal is not None:
        await _expect_text(step.literal, lines)
    elif step.expect is not None:
        match = await _expect_line(step, lines)
    if step.send is not None:
        progress.doing = "send"
        writer.write(expand(step.send, match).encode())
        await writer.drain()
    if step.starttls:
        progress.doing = "starttls"
        await upgrade(step)
    return match


async def _expect_line(step: Step, lines: LineReader) -> re.Match[str]:
    assert step.expect is not None
    try:
        while (line := await lines.line()) is not None:
            if found := step.expect.search(line):
                return found
    except TooMuch:
        raise DialogueFailed(
            f"{step.label}: no match in {MAX_HEARD} bytes, received {lines.heard_tail()}"
        ) from None
    raise DialogueFailed(f"{step.label}: connection closed, {_heard(lines)}")


async def _expect_text(expected: str, lines: LineReader) -> None:
    try:
        if await lines.through(expected.encode()):
            return
    except TooMuch:
        received = lines.heard_head()
        raise DialogueFailed(
            f"banner mismatch: expected {quote(expected)}, received {received}"
        ) from None
    heard = f"received {lines.heard_head()}" if lines.heard else "nothing received"
    raise DialogueFailed(f"connection closed before {quote(expected)} arrived ({heard})")


def expand(send: str, match: re.Match[str] | None) -> str:
    """`${N}` replaced by group N of the latest match (the catalogue checked N exists)."""
    if match is None:
        return send
    return _CAPTURE.sub(lambda m: match.group(int(m.group(1))) or "", send)


def timeout_reason(step: Step, doing: str, lines: LineReader, seconds: float) -> str:
    after = f"{seconds:g}s"
    if step.simple and step.literal is None:
        return f"timed out after {after} while sending"
    if step.literal is not None:  # the simple form reads as it always has
        if not lines.heard:
            return f"timed out after {after} waiting for {quote(step.literal)} (nothing received)"
        return (
            f"banner mismatch after {after}: expected {quote(step.literal)}, "
            f"received {lines.heard_head()}"
        )
    if doing == "expect":
        return f"{step.label}: no match within {after}, {_heard(lines)}"
    if doing == "send":
        return f"{step.label}: timed out after {after} while sending (the server reads nothing)"
    return f"{step.label}: timed out after {after} during the TLS handshake"


def _heard(lines: LineReader) -> str:
    return f"received {lines.heard_tail()}" if lines.heard else "nothing received"
