"""Multi-step HTTP scenarios (#17 option 11): log in at a loopback "Autenticação Central",
capture its session and token, open the page that needs them; fail at the first failing step
and name it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from checks import scenario
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import ScenarioSpec
from tests.checks.loopback import HttpServer, Reply, Request


class Portal:
    """POST /login sets a session cookie and redirects to /home?ticket=…; /api/token gives a
    token to that session; /area wants the session cookie and the bearer token."""

    def __init__(self) -> None:
        self.sessions = 0
        self.area_delay = 0.0

    def login(self, request: Request) -> Reply:
        form = parse_qs(request.body.decode())
        if form.get("password") != ["certa"]:
            return Reply(401, "credenciais inválidas")
        self.sessions += 1
        return Reply(
            302,
            "",
            {"location": "/home?ticket=T-9/x", "set-cookie": f"SESSION=s{self.sessions}; Path=/"},
        )

    def home(self, request: Request) -> Reply:
        if "SESSION=" not in request.headers.get("cookie", ""):
            return Reply(403, "no session")
        return Reply(200, '<input name="csrf" value="c-42">')

    def token(self, request: Request) -> Reply:
        session = request.headers.get("cookie", "")
        if not session.startswith("SESSION="):
            return Reply(403, "no session")
        document = {"token": f"tok-{session[8:]}", "ttl": 60}
        return Reply(200, json.dumps(document), {"content-type": "application/json"})

    async def area(self, request: Request) -> Reply:
        await asyncio.sleep(self.area_delay)
        cookie = request.headers.get("cookie", "")
        bearer = request.headers.get("authorization", "")
        if not cookie.startswith("SESSION=") or bearer != f"Bearer tok-{cookie[8:]}":
            return Reply(403, "acesso negado")
        return Reply(200, "Bem-vindo à sua área")


@pytest.fixture
def portal() -> Portal:
    return Portal()


@pytest.fixture
async def server(portal: Portal) -> AsyncIterator[HttpServer]:
    routes: dict[str, Any] = {
        "/login": portal.login,
        "/home?ticket=T-9/x": portal.home,
        "/api/token": portal.token,
        "/area": portal.area,
        "/area?ticket=T-9%2Fx": portal.area,
    }
    async with HttpServer(routes) as running:
        yield running


def steps(server: HttpServer, password: str = "certa") -> list[dict[str, Any]]:
    return [
        {
            "name": "login",
            "url": server.url("/login"),
            "method": "POST",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": f"user=vigia&password={password}",
            "follow_redirects": False,
            "expect_status": [302],
            "capture": {"ticket": {"header": "Location", "regex": "ticket=([^&]+)"}},
        },
        {
            "name": "home",
            "url": server.url("/home?ticket=T-9/x"),
            "capture": {"csrf": {"body_regex": 'name="csrf" value="([^"]+)"'}},
        },
        {
            "name": "token",
            "url": server.url("/api/token"),
            "json": {"$.ttl": 60},
            "capture": {"token": {"json": "$.token"}},
        },
        {
            "name": "area",
            "url": server.url("/area?ticket={{ticket}}"),
            "headers": {"Authorization": "Bearer {{token}}", "X-Csrf": "{{ csrf }}"},
            "body_contains": "Bem-vindo",
            "max_latency": "0.2s",
        },
    ]


async def run(ctx: ProbeContext, step_list: list[dict[str, Any]], timeout: float = 2.0) -> Verdict:
    return await scenario.probe(
        ScenarioSpec.model_validate({"steps": step_list}), timeout, ctx, check_id="ssd/login-flow"
    )


async def test_the_login_flow_passes_sharing_cookies_and_captured_values(
    ctx: ProbeContext, server: HttpServer
) -> None:
    verdict = await run(ctx, steps(server))
    assert verdict.outcome is Outcome.OK, verdict.reason
    area = server.requests[-1]
    assert area.path == "/area?ticket=T-9%2Fx"  # captured, percent-encoded in the URL
    assert area.headers["authorization"] == "Bearer tok-s1"
    assert area.headers["x-csrf"] == "c-42"
    assert area.headers["cookie"] == "SESSION=s1"
    measured = verdict.measurements
    assert measured["steps_passed"] == 4
    assert measured["login.status_code"] == 302 and measured["area.status_code"] == 200
    assert all(f"{s}.phase_processing" in measured for s in ("login", "home", "token", "area"))
    assert "tok-s1" not in repr(measured)  # captured values are not measurements


async def test_each_run_starts_without_a_session(ctx: ProbeContext, server: HttpServer) -> None:
    await run(ctx, steps(server))
    await run(ctx, steps(server))
    logins = [r for r in server.requests if r.path == "/login"]
    assert [r.headers.get("cookie") for r in logins] == [None, None]
    assert server.requests[-1].headers["authorization"] == "Bearer tok-s2"


async def test_a_failing_step_fails_the_scenario_naming_it_and_stops(
    ctx: ProbeContext, server: HttpServer
) -> None:
    verdict = await run(ctx, steps(server, password="errada"))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "step 'login': status 401, expected 302"
    assert verdict.measurements["failed_step"] == "login"
    assert verdict.measurements["steps_passed"] == 0
    assert [r.path for r in server.requests] == ["/login"]


async def test_a_capture_that_finds_nothing_fails_its_step(
    ctx: ProbeContext, server: HttpServer
) -> None:
    broken = steps(server)
    broken[2]["capture"] = {"token": {"json": "$.access_token"}}
    verdict = await run(ctx, broken)
    assert (
        verdict.reason
        == "step 'token': capture 'token': JSON $.access_token: no 'access_token' in dict"
    )
    regex = steps(server)
    regex[0]["capture"] = {"ticket": {"header": "Location", "regex": "code=(\\w+)"}}
    verdict = await run(ctx, regex)
    assert (
        verdict.reason
        == "step 'login': capture 'ticket': header Location does not match /code=(\\w+)/"
    )


async def test_without_the_cookie_jar_the_later_step_would_fail(
    ctx: ProbeContext, server: HttpServer
) -> None:
    # the same requests as single checks, no shared jar: the page refuses the visitor
    from checks import http
    from checks.specs import HttpSpec

    alone = await http.probe(HttpSpec(url=server.url("/api/token")), 2.0, ctx, check_id="x/y")
    assert alone.reason == "status 403, expected 2xx"


async def test_a_slow_step_degrades_the_scenario_which_goes_on(
    ctx: ProbeContext, server: HttpServer, portal: Portal
) -> None:
    portal.area_delay = 0.3
    verdict = await run(ctx, steps(server))
    assert verdict.outcome is Outcome.DEGRADED
    assert verdict.reason.startswith("step 'area': latency ")
    assert verdict.measurements["steps_passed"] == 4


async def test_the_timeout_covers_the_scenario_and_names_the_step(
    ctx: ProbeContext, server: HttpServer, portal: Portal
) -> None:
    portal.area_delay = 5
    verdict = await run(ctx, steps(server), timeout=0.5)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "step 'area': timed out after 0.5s waiting for the response headers"
    assert verdict.measurements["failed_step"] == "area"
    assert verdict.measurements["steps_passed"] == 3


async def test_steps_share_a_connection_to_one_origin(
    ctx: ProbeContext, server: HttpServer
) -> None:
    verdict = await run(ctx, steps(server))
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert server.connections == 1  # as a browser: the login's connection serves the page
    assert verdict.measurements["home.connection"] == "reused"


def _aimed_at(spec: ScenarioSpec, server: HttpServer) -> ScenarioSpec:
    """The same steps with each URL's origin replaced by the loopback server's."""
    steps = []
    for step in spec.steps:
        path = step.url.split("/", 3)[3]
        steps.append(step.model_copy(update={"url": server.url("/" + path)}))
    return spec.model_copy(update={"steps": steps})


async def test_the_shipped_ssd_entry_flow_works_and_names_a_broken_login_page(
    ctx: ProbeContext,
) -> None:
    from agent.catalog.loader import load
    from tests.catalog.test_shipped import SHIPPED

    checks = {c.name: c.spec for c in load(SHIPPED, environ={}).by_id["ssd"].checks}
    shipped = checks["entrada-autenticacao"]
    assert isinstance(shipped, ScenarioSpec)
    authorize = "https://autenticacao.seg-social.pt/authorize?client_id=ssd-web&state=x1"
    login_page = {"page": Reply(200, "<h1>Autenticação Central</h1><form>")}
    routes: dict[str, Any] = {
        "/ssd": lambda _: Reply(302, "", {"location": authorize}),
        "/login?client_id=ssd-web": lambda _: login_page["page"],
    }
    async with HttpServer(routes) as site:
        spec = _aimed_at(shipped, site)
        working = await scenario.probe(spec, 5.0, ctx, check_id="ssd/entrada-autenticacao")
        login_page["page"] = Reply(503, "manutenção")
        broken = await scenario.probe(spec, 5.0, ctx, check_id="ssd/entrada-autenticacao")
    assert working.outcome is Outcome.OK, working.reason
    assert broken.outcome is Outcome.FAIL and broken.reason.startswith("step 'login': status 503")
