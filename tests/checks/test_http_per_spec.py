"""What an http probe derives from its spec alone (its host, its URL as httpx parses it, its
body, its TLS and connection keys) is derived once per spec, not on every run, and options a
check does not set cost nothing: a second run of the same plain GET parses no URL and reads no
pydantic private attribute (#17: "the new features cost nothing when not configured")."""

from __future__ import annotations

import inspect
import sys
import urllib.parse
from collections import Counter
from types import CodeType, FrameType
from typing import Any

import httpx._urlparse
import pytest
from pydantic import BaseModel

from checks import http
from checks.context import ProbeContext
from checks.result import Outcome
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, Reply

TIMEOUT = 2.0


def _code(function: Any) -> CodeType:
    return inspect.unwrap(function).__code__  # type: ignore[no-any-return]


# Per-run work a spec-only derivation would redo: the URL's host by urllib (the pool key and
# the server_name rule), the URL by httpx (the request), a private attribute (the body).
_WATCHED: dict[CodeType, str] = {
    _code(urllib.parse.urlsplit): "urllib.parse.urlsplit",
    _code(vars(urllib.parse._NetlocResultMixinBase)["hostname"].fget): "urllib hostname",
    _code(httpx._urlparse.urlparse): "httpx urlparse",
    _code(vars(BaseModel)["__getattr__"]): "pydantic __getattr__",
}


async def _calls_of_second_run(ctx: ProbeContext, spec: HttpSpec) -> Counter[str]:
    first = await http.probe(spec, TIMEOUT, ctx, check_id="t")
    assert first.outcome is Outcome.OK, first.reason
    counts: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call" and (name := _WATCHED.get(frame.f_code)) is not None:
            counts[name] += 1

    sys.setprofile(profile)  # this thread: the loop, the probe and the test's server
    try:
        second = await http.probe(spec, TIMEOUT, ctx, check_id="t")
    finally:
        sys.setprofile(None)
    assert second.outcome is Outcome.OK, second.reason
    return counts


@pytest.mark.parametrize("reuse", [False, True], ids=["new connection", "reuse_connection"])
async def test_a_second_run_of_a_plain_get_parses_nothing_of_its_spec_again(
    ctx: ProbeContext, reuse: bool
) -> None:
    async with HttpServer({"/health": lambda _: Reply(200, '{"status": "UP"}')}) as server:
        spec = HttpSpec(url=server.url("/health"), json={"$.status": "UP"}, reuse_connection=reuse)
        assert await _calls_of_second_run(ctx, spec) == Counter()


async def test_a_body_and_a_server_name_are_derived_once_too(ctx: ProbeContext) -> None:
    async with HttpServer({"/login": lambda r: Reply(200 if r.body == b"u=1" else 400)}) as server:
        spec = HttpSpec(
            url=server.url("/login"), method="POST", body="u=1", server_name="portal.internal"
        )
        assert await _calls_of_second_run(ctx, spec) == Counter()


def test_a_copy_with_other_fields_derives_its_own_values() -> None:
    spec = HttpSpec(url="https://A.example/x", server_name="front.example", body="one")
    assert (spec.host, spec.named, spec.content) == (
        "a.example",
        ("a.example", "front.example"),
        b"one",
    )
    assert str(spec.request_url) == "https://a.example/x"
    # a scenario step with its placeholders filled in is such a copy (checks/scenario.py)
    copy = spec.model_copy(update={"url": "https://b.example/y", "body": "two"})
    assert (copy.host, copy.named, copy.content) == (
        "b.example",
        ("b.example", "front.example"),
        b"two",
    )
    assert str(copy.request_url) == "https://b.example/y"
    # what is derived is no field: not in a dump, no difference to an equal spec
    again = HttpSpec(url="https://A.example/x", server_name="front.example", body="one")
    assert spec == again and again == spec and spec.model_dump() == again.model_dump()
    assert "named" not in spec.model_dump() and spec != copy
