"""Header rules (#17 option 7): `forbid_headers`, `allow_missing`, repeated headers, reasons
that mask credentials and stay clear of the PageContentLost alert, on real loopback servers."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from checks import http
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import HeaderRule, HttpSpec
from tests.checks.loopback import HttpServer, RawServer, Reply

RULES = Path(__file__).resolve().parents[2] / "alerting" / "rules.yaml"
OLD_APACHE = {"Server": "Apache/2.2.15 (CentOS)", "X-Powered-By": "PHP/5.3.3"}


async def run(ctx: ProbeContext, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(**spec), 1.0, ctx, check_id="svc/http")


def _page_content_lost() -> re.Pattern[str]:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rule = next(r for r in rules["rules"] if r["name"] == "PageContentLost")
    return re.compile(rule["params"]["reason_matches"])


async def test_a_forbidden_header_value_fails_naming_header_regex_and_value(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, headers=OLD_APACHE)}) as server:
        old = await run(ctx, url=server.url(), forbid_headers={"Server": r"Apache/2\.[0-2]\."})
        fine = await run(ctx, url=server.url(), forbid_headers={"server": "nginx"})
    assert old.outcome is Outcome.FAIL
    assert old.reason == (
        r"header Server matches forbidden /Apache/2\.[0-2]\./ ('Apache/2.2.15 (CentOS)')"
    )
    assert fine.outcome is Outcome.OK, fine.reason


async def test_allow_missing_lets_an_absent_header_pass_both_rules(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200)}) as server:
        strict_forbid = await run(ctx, url=server.url(), forbid_headers={"X-Powered-By": "PHP"})
        lax_forbid = await run(
            ctx,
            url=server.url(),
            forbid_headers={"X-Powered-By": {"regex": "PHP", "allow_missing": True}},
        )
        strict_expect = await run(ctx, url=server.url(), expect_headers={"X-Frame-Options": "DENY"})
        lax_expect = await run(
            ctx,
            url=server.url(),
            expect_headers={"X-Frame-Options": {"regex": "DENY", "allow_missing": True}},
        )
    # blackbox_exporter's default: a rule on a header that is not there fails
    assert strict_forbid.reason == (
        "header X-Powered-By missing (forbid_headers needs it unless allow_missing: true)"
    )
    assert lax_forbid.outcome is Outcome.OK, lax_forbid.reason
    assert strict_expect.reason == "header X-Frame-Options missing"
    assert lax_expect.outcome is Outcome.OK, lax_expect.reason


async def test_allow_missing_still_judges_a_header_that_is_present(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, headers=OLD_APACHE)}) as server:
        verdict = await run(
            ctx,
            url=server.url(),
            expect_headers={"X-Powered-By": {"regex": "^PHP/8", "allow_missing": True}},
        )
    assert verdict.reason == "header X-Powered-By is 'PHP/5.3.3', expected /^PHP/8/"


def _repeated_headers(*lines: str) -> Any:
    head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + "".join(f"{h}\r\n" for h in lines)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write((head + "\r\n").encode("latin-1"))
        await writer.drain()
        await asyncio.Event().wait()

    return answer


async def test_each_value_of_a_repeated_header_is_matched_on_its_own(ctx: ProbeContext) -> None:
    handler = _repeated_headers("Via: 1.1 edge-a", "Via: 1.1 legacy-proxy")
    async with RawServer(handler) as server:
        url = f"http://127.0.0.1:{server.port}/"
        # anchored: the joined line "1.1 edge-a, 1.1 legacy-proxy" would not end in "proxy"
        # for the first value, yet one value matching is enough for an expectation
        expected = await run(ctx, url=url, expect_headers={"Via": r"^1\.1 legacy-proxy$"})
        forbidden = await run(ctx, url=url, forbid_headers={"Via": r"^1\.1 legacy-"})
        absent = await run(ctx, url=url, expect_headers={"Via": r"^2\.0"})
    assert expected.outcome is Outcome.OK, expected.reason
    assert forbidden.reason == r"header Via matches forbidden /^1\.1 legacy-/ ('1.1 legacy-proxy')"
    assert absent.reason == r"header Via is '1.1 edge-a', '1.1 legacy-proxy', expected /^2\.0/"


async def test_credential_headers_are_named_but_their_values_withheld(ctx: ProbeContext) -> None:
    token = "sess=9f8e7d6c5b4a; Path=/; HttpOnly"
    headers = {"Set-Cookie": token, "X-Session-Token": "abc123secret"}
    async with HttpServer({"/": lambda _: Reply(200, headers=headers)}) as server:
        cookie = await run(ctx, url=server.url(), forbid_headers={"Set-Cookie": "HttpOnly"})
        insecure = await run(ctx, url=server.url(), expect_headers={"Set-Cookie": "Secure"})
        custom = await run(ctx, url=server.url(), forbid_headers={"X-Session-Token": "."})
    assert cookie.reason == "header Set-Cookie matches forbidden /HttpOnly/ (value withheld)"
    assert insecure.reason == "header Set-Cookie is value withheld, expected /Secure/"
    assert custom.reason == "header X-Session-Token matches forbidden /./ (value withheld)"
    for verdict in (cookie, insecure, custom):
        assert "9f8e7d6c5b4a" not in verdict.reason and "abc123secret" not in verdict.reason


async def test_header_reasons_never_raise_the_defacement_alert(ctx: ProbeContext) -> None:
    alert = _page_content_lost()
    async with HttpServer({"/": lambda _: Reply(200, headers=OLD_APACHE)}) as server:
        verdicts = [
            await run(ctx, url=server.url(), forbid_headers={"Server": "Apache"}),
            await run(ctx, url=server.url(), expect_headers={"Server": "nginx"}),
            await run(ctx, url=server.url(), expect_headers={"X-Frame-Options": "DENY"}),
            await run(ctx, url=server.url(), forbid_headers={"X-Frame-Options": "x"}),
        ]
        body = await run(ctx, url=server.url(), body_regex="Segurança")
    assert all(v.outcome is Outcome.FAIL for v in verdicts)
    assert [v.reason for v in verdicts if alert.search(v.reason)] == []
    assert alert.search(body.reason)  # the alert still sees a lost page


def test_a_plain_regex_is_shorthand_for_a_rule() -> None:
    rules = {"url": "http://x/", "expect_headers": {"X-A": "a"}, "forbid_headers": {"X-B": "b"}}
    spec = HttpSpec.model_validate(rules)
    assert spec.expect_headers == {"X-A": HeaderRule(regex="a")}
    assert spec.forbid_headers["X-B"].allow_missing is False


@pytest.mark.parametrize(
    ("rules", "where", "message"),
    [
        ({"forbid_headers": {"Server": "(x"}}, ("forbid_headers", "Server", "regex"), "valid"),
        ({"expect_headers": {"Server": "[z"}}, ("expect_headers", "Server", "regex"), "valid"),
        ({"forbid_headers": {"Server": 3}}, ("forbid_headers", "Server"), "3 is not a header rule"),
        (
            {"forbid_headers": {"Server": {"regex": "x", "alow_missing": True}}},
            ("forbid_headers", "Server", "alow_missing"),
            "Extra inputs",
        ),
        (
            {"forbid_headers": {"Server": {"regex": "x", "allow_missing": "perhaps"}}},
            ("forbid_headers", "Server", "allow_missing"),
            "boolean",
        ),
        (
            {"expect_headers": {"Bad Name": "x"}},
            ("expect_headers", "Bad Name", "[key]"),
            "not a header name",
        ),
    ],
)
def test_bad_header_rules_are_refused_at_their_path(
    rules: dict[str, Any], where: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpSpec(url="http://x/", **rules)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    assert errors[0]["loc"] == where
    assert message in errors[0]["msg"]
