"""`expect_json`: CEL conditions on a JSON answer beyond equality (#17 option 8), against a
real loopback server serving Spring/Quarkus-style health documents."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from checks import http, json_expr
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, Reply

NO_DOWN = '!body.checks.exists(c, c.status == "DOWN")'

HEALTHY = {
    "status": "UP",
    "checks": [{"name": "db", "status": "UP"}, {"name": "ldap", "status": "UP"}],
    "build": {"version": "4.2.1"},
    "latency_ms": 120,
}
DB_DOWN = {
    **HEALTHY,
    "checks": [{"name": "db", "status": "DOWN"}, {"name": "ldap", "status": "UP"}],
}


def json_reply(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    content = {"content-type": "application/json", **(headers or {})}
    return Reply(status, json.dumps(document), content)


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    routes = {
        "/healthy": lambda _: json_reply(HEALTHY, headers={"x-instance": "a"}),
        "/db-down": lambda _: json_reply(DB_DOWN),
        "/big": lambda _: json_reply({"items": list(range(5000))}),
        "/text": lambda _: Reply(200, "<html>not json</html>"),
    }
    async with HttpServer(routes) as running:
        yield running


async def run(ctx: ProbeContext, url: str, *expressions: str, **spec: Any) -> Verdict:
    checked = HttpSpec(url=url, expect_json=list(expressions), **spec)
    return await http.probe(checked, 2.0, ctx, check_id="svc/health")


async def test_no_check_down_passes_on_a_healthy_document_and_fails_naming_the_expression(
    ctx: ProbeContext, server: HttpServer
) -> None:
    healthy = await run(ctx, server.url("/healthy"), NO_DOWN)
    down = await run(ctx, server.url("/db-down"), NO_DOWN)
    assert healthy.outcome is Outcome.OK, healthy.reason
    assert down.outcome is Outcome.FAIL
    assert down.reason == f"JSON condition {NO_DOWN} is false"


@pytest.mark.parametrize(
    "expression",
    [
        "has(body.build.version)",  # existence
        "!has(body.error)",  # absence
        "body.latency_ms < 500 && body.latency_ms >= 0",  # comparisons
        'body.status in ["UP", "DEGRADED"]',  # membership
        '"ldap" in body.checks.map(c, c.name)',
        'body.checks.all(c, c.status == "UP") && size(body.checks) == 2',
        'body.build.version.matches("^4\\\\.")',
        'status == 200 && headers["content-type"].startsWith("application/json")',
        'headers["x-instance"] == "a"',
        "body.checks.exists(c, body.checks.exists(d, c.name != d.name))",  # depth 2, small doc
    ],
)
async def test_conditions_beyond_equality_hold_on_the_healthy_document(
    ctx: ProbeContext, server: HttpServer, expression: str
) -> None:
    verdict = await run(ctx, server.url("/healthy"), expression)
    assert verdict.outcome is Outcome.OK, verdict.reason


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("!has(body.build)", "JSON condition !has(body.build) is false"),
        ("body.missing.status == 1", "JSON condition body.missing.status == 1: no key 'missing'"),
        (
            "body.checks[5].status == 1",
            "JSON condition body.checks[5].status == 1: index out of bounds: 5",
        ),
        (
            "body.status + 1 == 2",
            "JSON condition body.status + 1 == 2: Unsupported operation: string + int",
        ),
        ("body.latency_ms", "JSON condition body.latency_ms is 120, not true or false"),
    ],
)
async def test_a_false_or_broken_condition_fails_naming_it(
    ctx: ProbeContext, server: HttpServer, expression: str, reason: str
) -> None:
    verdict = await run(ctx, server.url("/healthy"), expression)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith(reason), verdict.reason


async def test_the_first_failing_expression_is_the_one_named(
    ctx: ProbeContext, server: HttpServer
) -> None:
    verdict = await run(ctx, server.url("/db-down"), 'body.status == "UP"', NO_DOWN, "false")
    assert verdict.reason == f"JSON condition {NO_DOWN} is false"


async def test_equality_conditions_still_work_beside_expressions(
    ctx: ProbeContext, server: HttpServer
) -> None:
    both = await run(ctx, server.url("/db-down"), NO_DOWN, json={"$.status": "DOWN"})
    assert both.reason == 'JSON $.status is "UP", expected "DOWN"'  # equality is judged first
    passing = await run(ctx, server.url("/healthy"), NO_DOWN, json={"$.checks[0].name": "db"})
    assert passing.outcome is Outcome.OK, passing.reason


async def test_a_body_that_is_not_json_fails_as_such(ctx: ProbeContext, server: HttpServer) -> None:
    verdict = await run(ctx, server.url("/text"), "true")
    assert verdict.reason.startswith("body is not JSON")


async def test_nested_loops_over_a_large_document_are_refused_not_run(
    ctx: ProbeContext, server: HttpServer
) -> None:
    nested = "body.items.exists(a, body.items.exists(b, a + b == -1))"
    single = "!body.items.exists(a, a == -1)"
    refused = await run(ctx, server.url("/big"), nested)
    linear = await run(ctx, server.url("/big"), single)
    assert refused.outcome is Outcome.FAIL
    assert refused.reason.endswith(
        f"not evaluated: its loops could run {5000**2} iterations, over {json_expr.MAX_ITERATIONS}"
    )
    assert linear.outcome is Outcome.OK, linear.reason  # one loop over 5,000 items: linear


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("body.a >", "not a CEL expression: Syntax error: mismatched input"),
        ("bdy.status == 1", "unknown variable 'bdy' (known: body, status, headers)"),
        ('body.s.startswith("a")', "unknown function 'startswith'"),
        (
            "body.a.all(x, body.b.all(y, body.c.all(z, z)))",
            "comprehensions nested 3 deep, at most 2",
        ),
        ("1 == " + "1 + " * 600 + "1", "CEL expression longer than 2000 characters"),
    ],
)
def test_bad_expressions_are_refused_when_the_spec_is_built(expression: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpSpec(url="http://127.0.0.1/", expect_json=["true", expression])
    error = caught.value.errors()[0]
    assert error["loc"] == ("expect_json", 1)
    assert message in error["msg"]


def test_macro_names_inside_strings_and_bound_variables_are_not_mistaken() -> None:
    expression = json_expr.compile_expression('body.l.exists(x, x == ".all(y, .exists(z,")')
    assert expression.depth == 1


def test_an_expression_is_compiled_once() -> None:
    source = 'body.compiled_once == "yes"'
    first = json_expr.compile_expression(source)
    HttpSpec(url="http://127.0.0.1/", expect_json=[source])
    assert json_expr.compile_expression(source) is first
