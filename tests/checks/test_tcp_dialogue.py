"""TCP dialogues (`steps`) against real servers on 127.0.0.1: reading first, captures, step
timeouts, reasons naming the step and never the secret sent."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from checks import tcp
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.runner import run_probe
from checks.secrets import SECRETS
from checks.specs import DialogueStep, TcpSpec
from tests.checks.loopback import Pki, RawServer
from tests.checks.starttls_servers import SERVERS, Behaviour

TIMEOUT = 2.0


async def check(ctx: ProbeContext, port: int, timeout: float = TIMEOUT, **spec: Any) -> Verdict:
    return await tcp.probe(
        TcpSpec(host="127.0.0.1", port=port, **spec), timeout, ctx, check_id="s/t"
    )


def challenge(secret_echo: bool = False) -> Any:
    """`challenge N` then `ok` to `answer N`, `denied` (echoing the answer if asked) else."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* banner line one\r\nchallenge 4242 please\r\n")
        await writer.drain()
        line = await reader.readline()
        if line == b"answer 4242\r\n":
            writer.write(b"ok\r\n")
        else:
            writer.write(b"denied" + (b" " + line.strip() if secret_echo else b"") + b"\r\n")
            await writer.drain()
            return  # hang up on a wrong answer
        await writer.drain()
        await reader.read(1)

    return handler


async def test_a_dialogue_that_reads_first_passes_a_server_punishing_early_talkers(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    behaviour = Behaviour(greet_after=0.3, punish_early=True)
    smtp = SERVERS["smtp"](Pki(tmp_path).server_context(), behaviour)
    async with RawServer(smtp) as server:
        talks_first = await check(ctx, server.port, send="EHLO probe\r\n", expect="250 HELP")
        reads_first = await check(
            ctx,
            server.port,
            steps=[
                {"expect": "^220 ", "send": "EHLO probe\r\n"},
                {"expect": "^250 HELP", "send": "QUIT\r\n"},
                {"expect": "^221 "},
            ],
        )
    assert talks_first.outcome is Outcome.FAIL
    assert "554 5.5.1 you spoke before my greeting" in talks_first.reason
    assert reads_first.outcome is Outcome.OK, reads_first.reason
    assert float(reads_first.measurements["response_time"]) >= 0.3  # type: ignore[arg-type]


async def test_captures_of_an_expect_are_sent_in_the_next_send(ctx: ProbeContext) -> None:
    async with RawServer(challenge()) as server:
        verdict = await check(
            ctx,
            server.port,
            steps=[
                {"expect": r"^challenge (\d+)", "send": "answer ${1}\r\n"},
                {"expect": "^ok$"},
            ],
        )
        literal = await check(
            ctx,
            server.port,
            steps=[{"expect": r"^challenge \d+", "send": "answer 1\r\n"}, {"expect": "^ok$"}],
        )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert literal.reason == "step 2 (expect /^ok$/): connection closed, received 'denied'"


async def test_lines_that_do_not_match_are_passed_over(ctx: ProbeContext) -> None:
    async def multiline(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"250-first\r\n250-second\r\n250 last\r\n")
        await writer.drain()
        await reader.read(1)

    async with RawServer(multiline) as server:
        verdict = await check(ctx, server.port, steps=[{"expect": "^250 "}])
        anchored = await check(ctx, server.port, timeout=0.4, steps=[{"expect": "^second"}])
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["bytes_received"] == 33
    # a regex is tried on each whole line, so an anchor means the start of a line
    assert anchored.reason == (
        "step 1 (expect /^second/): no match within 0.4s, received '250-first\\r\\n250-second"
        "\\r\\n250 last'"
    )


async def test_a_step_timeout_fails_that_step_long_before_the_check_timeout(
    ctx: ProbeContext,
) -> None:
    async def greets_then_sulks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        await writer.drain()
        await asyncio.Event().wait()

    async with RawServer(greets_then_sulks) as server:
        start = time.perf_counter()
        verdict = await check(
            ctx,
            server.port,
            timeout=5,
            step_timeout=0.3,
            steps=[{"expect": r"^\+OK", "send": "CAPA\r\n"}, {"expect": r"^\+OK"}],
        )
        elapsed = time.perf_counter() - start
        own = await check(
            ctx,
            server.port,
            timeout=5,
            steps=[{"expect": "^never", "timeout": "200ms"}],
        )
    assert verdict.reason == (r"step 2 (expect /^\+OK/): no match within 0.3s, nothing received")
    assert 0.25 <= elapsed < 1.5
    assert own.reason == "step 1 (expect /^never/): no match within 0.2s, received '+OK ready'"


async def test_the_check_timeout_still_bounds_a_dialogue_and_names_the_step(
    ctx: ProbeContext,
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    async with RawServer(silent) as server:
        verdict = await check(
            ctx, server.port, timeout=0.3, step_timeout=10, steps=[{"expect": "^220"}]
        )
    assert verdict.reason == "step 1 (expect /^220/): no match within 0.3s, nothing received"


async def test_a_closed_connection_names_the_step_and_what_was_heard(ctx: ProbeContext) -> None:
    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hello\r\n")
        await writer.drain()
        await reader.readline()
        writer.write(b"421 4.7.0 too busy, try later\r\n")
        await writer.drain()

    async with RawServer(hangs_up) as server:
        verdict = await check(
            ctx,
            server.port,
            steps=[{"expect": "^220"}, {"send": "EHLO x\r\n"}, {"expect": "^250"}],
        )
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == (
        "step 3 (expect /^250/): connection closed, received '421 4.7.0 too busy, try later'"
    )


async def test_the_secret_sent_never_shows_in_the_reason(ctx: ProbeContext) -> None:
    secret = "s3cret-t0ken-value"
    SECRETS.add(secret)
    spec = TcpSpec(
        host="127.0.0.1",
        port=1,
        steps=[
            DialogueStep(expect=r"^challenge (\d+)", send=f"answer {secret}\r\n"),
            DialogueStep(expect="^ok"),
        ],
    )
    async with RawServer(challenge(secret_echo=True)) as server:
        spec = spec.model_copy(update={"port": server.port})
        direct = await tcp.probe(spec, TIMEOUT, ctx, check_id="s/t")
        result = await run_probe("s/t", "tcp", spec, TIMEOUT, ctx)
    # the probe quotes what the server said (here it echoed the secret) but never the send...
    assert direct.reason.startswith("step 2 (expect /^ok/): connection closed, received 'denied")
    assert "send" not in direct.reason.split(":", 1)[1]
    # ...and the runner masks a secret the server echoed
    assert secret not in result.reason and "***" in result.reason
    assert secret not in repr(spec)


async def test_a_server_flooding_one_step_is_cut_at_the_cap(ctx: ProbeContext) -> None:
    async def floods(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"x" * 8192)
            await writer.drain()

    async with RawServer(floods) as server:
        verdict = await check(ctx, server.port, steps=[{"expect": "^220"}])
    assert verdict.reason.startswith("step 1 (expect /^220/): no match in 65536 bytes, received")


async def test_a_starttls_step_upgrades_a_custom_protocol(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    server_tls = pki.server_context()

    async def custom(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"READY\r\n")
        await writer.drain()
        if await reader.readline() == b"GO-TLS\r\n":
            writer.write(b"PROCEED\r\n")
            await writer.drain()
            await writer.start_tls(server_tls)
            writer.write(b"SECURE HELLO\r\n")
            await writer.drain()
        await reader.read(1)

    steps = [
        {"expect": "^READY", "send": "GO-TLS\r\n"},  # in a step: expect, send, then starttls
        {"expect": "^PROCEED", "starttls": True},
        {"expect": "^SECURE HELLO"},
    ]
    async with RawServer(custom) as server:
        verdict = await check(
            ctx, server.port, steps=steps, server_name="localhost", ca_bundle=pki.ca_bundle
        )
        untrusted = await check(ctx, server.port, steps=steps, server_name="localhost")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert "days_left" in verdict.measurements and "handshake_time" in verdict.measurements
    assert untrusted.reason.startswith(
        "step 2 (expect /^PROCEED/, starttls): certificate verification failed"
    )


async def test_simple_send_and_expect_still_work_as_one_dialogue(ctx: ProbeContext) -> None:
    async with RawServer(challenge()) as server:
        verdict = await check(ctx, server.port, expect="challenge 4242")
    assert verdict.outcome is Outcome.OK
    assert "response_time" in verdict.measurements
