"""Multi-step HTTP scenarios: ordered requests sharing one cookie jar and the values earlier
steps captured (log in, take the session or token, open the page that needs it).

Each step is an http check of its own (checks/http.py judges it: status, headers, body, JSON,
latency, its own phase timings) and the scenario fails at the first step that fails, naming it.
A step slower than its `max_latency` degrades the scenario, which goes on. The whole scenario
runs under the check's one timeout; a run is a new visitor: its jar and captures die with it.
Steps whose TLS, address family and proxy settings match share their connections, as a
browser's tabs do.

Captured values are sessions and tokens: no reason quotes them, and a value with a control
character (which would split a header) fails its capture.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import quote

import httpx

from checks import http
from checks.context import ProbeContext
from checks.http_clients import ProbeConnections, transports_key
from checks.http_cookies import ChainCookies
from checks.http_run import Fetched, Run
from checks.http_verdict import body_encoding, clip
from checks.json_path import json_path
from checks.result import Measurement, Outcome, Verdict
from checks.specs import PLACEHOLDER, Capture, HttpSpec, ScenarioSpec, ScenarioStep

_UNRESERVED = "-._~"  # RFC 3986 2.3: what a captured value keeps unencoded in a URL


class _StepFailed(Exception):
    """A capture that found nothing; the message is the reason."""


async def probe(spec: ScenarioSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    scenario = _Scenario(spec, ctx, check_id)
    try:
        async with asyncio.timeout(timeout):
            return await scenario.run()
    except (TimeoutError, httpx.TimeoutException):
        return scenario.timed_out(timeout)
    finally:
        await scenario.aclose()


class _Scenario:
    def __init__(self, spec: ScenarioSpec, ctx: ProbeContext, check_id: str) -> None:
        self.spec = spec
        self.ctx = ctx
        self.check_id = check_id
        self.started = time.perf_counter()
        self.session = ChainCookies.session()
        self.captured: dict[str, str] = {}
        self.measurements: dict[str, Measurement] = {}
        self.connections: dict[tuple[object, ...], ProbeConnections] = {}
        self.current: tuple[str, Run] | None = None
        self.passed = 0

    async def run(self) -> Verdict:
        slow: str | None = None
        for step in self.spec.steps:
            verdict, fetched = await self._step(step)
            if verdict.outcome is Outcome.FAIL:
                return self._verdict(Outcome.FAIL, f"step {step.name!r}: {verdict.reason}", step)
            if verdict.outcome is Outcome.DEGRADED and slow is None:
                slow = f"step {step.name!r}: {verdict.reason}"
            try:
                self._capture(step, fetched)
            except _StepFailed as failed:
                return self._verdict(Outcome.FAIL, f"step {step.name!r}: {failed}", step)
            self.passed += 1
        if slow is not None:
            return self._verdict(Outcome.DEGRADED, slow)
        return self._verdict(Outcome.OK, "")

    async def _step(self, step: ScenarioStep) -> tuple[Verdict, Fetched | None]:
        run = Run(self._resolved(step), self.ctx.clock.now)
        run.cookies = self.session
        run.read_body = run.read_body or any(c.reads_body for c in step.capture.values())
        run.keep_connection = True
        self.current = (step.name, run)
        connections = self._connections(run.spec)
        verdict, fetched = await http.exchange(
            run, connections, self.ctx, f"{self.check_id}#{step.name}"
        )
        self._record(step.name, verdict.measurements)
        self.current = None
        return verdict, fetched

    def _resolved(self, step: ScenarioStep) -> HttpSpec:
        """The step with `{{name}}`s replaced: percent-encoded in the URL, as is elsewhere."""
        if not self.captured or not step.placeholders():
            return step
        return step.model_copy(
            update={
                "url": self._fill(step.url, url=True),
                "headers": {k: self._fill(v) for k, v in step.headers.items()},
                "body": None if step.body is None else self._fill(step.body),
            }
        )

    def _fill(self, text: str, *, url: bool = False) -> str:
        def value(match: re.Match[str]) -> str:
            found = self.captured.get(match.group(1), "")
            return quote(found, safe=_UNRESERVED) if url else found

        return PLACEHOLDER.sub(value, text)

    def _capture(self, step: ScenarioStep, fetched: Fetched | None) -> None:
        if not step.capture:
            return
        assert fetched is not None  # a step that did not fail has its answer
        for name, capture in step.capture.items():
            try:
                found = _captured(capture, fetched)
                if any(ord(c) < 0x20 or ord(c) == 0x7F for c in found):
                    raise _StepFailed("the value has a control character")
            except _StepFailed as failed:
                raise _StepFailed(f"capture {name!r}: {failed}") from None
            self.captured[name] = found

    def _connections(self, spec: HttpSpec) -> ProbeConnections:
        # the TLS profile, address family, server_name, keep-alive and proxy settings
        key = transports_key(spec)
        connections = self.connections.get(key)
        if connections is None:
            connections = self.connections[key] = self.ctx.http.open(spec)
        return connections

    def _record(self, step: str, measurements: dict[str, Measurement]) -> None:
        for key, value in measurements.items():
            self.measurements[f"{step}.{key}"] = value

    def _verdict(
        self, outcome: Outcome, reason: str, failed: ScenarioStep | None = None
    ) -> Verdict:
        self.measurements["latency"] = round(time.perf_counter() - self.started, 6)
        self.measurements["steps_passed"] = self.passed
        if failed is not None:
            self.measurements["failed_step"] = failed.name
        return Verdict(outcome, reason, self.measurements)

    def timed_out(self, timeout: float) -> Verdict:
        if self.current is None:  # between steps: capturing
            return self._verdict(Outcome.FAIL, f"timed out after {timeout:g}s")
        name, run = self.current
        self._record(name, run.measured())
        self.measurements["failed_step"] = name
        reason = f"step {name!r}: timed out after {timeout:g}s {run.trace.phase}"
        return self._verdict(Outcome.FAIL, reason)

    async def aclose(self) -> None:
        for connections in self.connections.values():
            await connections.aclose()


def _captured(capture: Capture, fetched: Fetched) -> str:
    response = fetched.response
    if capture.header is not None:
        value: str | None = response.headers.get(capture.header)
        if value is None:
            raise _StepFailed(f"header {capture.header} missing")
        if capture.regex is None:
            return value
        return _group(re.search(capture.regex, value), f"header {capture.header}", capture.regex)
    text = fetched.body.decode(body_encoding(response), errors="replace")
    if capture.body_regex is not None:
        return _group(re.search(capture.body_regex, text), "the body", capture.body_regex)
    assert capture.json_ is not None  # the spec validates exactly one source
    try:
        found = json_path(json.loads(text), capture.json_)
    except ValueError:
        raise _StepFailed("the body is not JSON") from None
    except LookupError as missing:
        raise _StepFailed(f"JSON {capture.json_}: {missing.args[0]}") from None
    return found if isinstance(found, str) else json.dumps(found)


def _group(match: re.Match[str] | None, where: str, pattern: str) -> str:
    if match is None:
        raise _StepFailed(f"{where} does not match /{clip(pattern)}/")
    return match.group(1) if match.re.groups else match.group(0)
