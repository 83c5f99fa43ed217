"""One secret mask: `${NAME}` values never leave a probe, a receiver error or a log line."""

from __future__ import annotations

import logging
import socket
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerting.errors import TransientDeliveryError
from alerting.notification import AlertStatus, Notification
from alerting.receivers.alertmanager import AlertmanagerReceiver
from alerting.receivers.webhook import WebhookReceiver
from checks.context import ProbeContext
from checks.result import Outcome
from checks.runner import run_probe
from checks.secrets import SecretFilter, SecretMask, redacted_origin
from checks.specs import HttpSpec, NagiosSpec
from checks.yamlsource import parse
from tests.checks.loopback import HttpServer, Reply, probe_context

SECRET = "hunter2-Sekr3t"
_NOTE = Notification("A/svc", AlertStatus.FIRING, {"alertname": "A"}, {}, datetime.now(UTC))


def _resolve(yaml_text: str, **environ: str) -> object:
    """Resolve `${NAME}`s the way the catalogue does (which registers them in the mask)."""
    return parse(yaml_text, "services.yaml", environ).data


def test_short_values_are_not_masked_and_long_ones_are_in_every_form() -> None:
    mask = SecretMask(["on", "p@ss word!"])
    assert mask.mask("on p@ss word! p%40ss%20word%21") == "on *** ***"


def test_redacted_origin_keeps_scheme_host_port_only() -> None:
    assert redacted_origin("https://u:pw@chatops.example:8443/hooks/T0K?x=1") == (
        "https://chatops.example:8443/…"
    )
    assert redacted_origin("http://127.0.0.1:9093") == "http://127.0.0.1:9093"


async def test_plugin_echoing_its_secret_argument_and_env_is_masked(tmp_path: Path) -> None:
    data = _resolve(
        '{cmd: ["${PLUGIN_TOKEN}"], env: {TOK: "${PLUGIN_TOKEN}"}}', PLUGIN_TOKEN=SECRET
    )
    assert isinstance(data, dict)
    plugin = tmp_path / "echo_secret"
    plugin.write_text('#!/bin/sh\necho "CRITICAL - arg $1 env $TOK | tok=$TOK;1;2"\nexit 2\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    spec = NagiosSpec(command=[str(plugin), *data["cmd"]], env=data["env"])
    ctx = probe_context()
    try:
        result = await run_probe("svc/plugin", "nagios", spec, 5.0, ctx)
    finally:
        await ctx.aclose()
    assert result.outcome is Outcome.FAIL
    assert "arg *** env ***" in result.reason
    assert SECRET not in repr(result)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_failing_receivers_name_their_origin_never_the_secret_url() -> None:
    data = _resolve(
        '{hook: "/hooks/${HOOK_TOKEN}", pw: "${AM_PASS}"}',
        HOOK_TOKEN=SECRET,
        AM_PASS="am-" + SECRET,
    )
    assert isinstance(data, dict)
    async with HttpServer({data["hook"]: lambda _: Reply(503, "down: " + SECRET)}) as server:
        hook = WebhookReceiver("hook", server.url(data["hook"]))
        with pytest.raises(TransientDeliveryError) as failed:
            await hook.send([])
        await hook.aclose()
    am = AlertmanagerReceiver("am", f"http://user:{data['pw']}@127.0.0.1:{_closed_port()}")
    with pytest.raises(TransientDeliveryError) as refused:
        await am.send([_NOTE])
    await am.aclose()
    hook_text, am_text = str(failed.value), str(refused.value)
    assert hook_text.startswith(f"'hook' (http://127.0.0.1:{server.port}/…) answered 503")
    assert SECRET not in hook_text and SECRET not in am_text and "user" not in am_text


def test_log_filter_masks_message_args_and_tracebacks() -> None:
    _resolve('{x: "${LOGGED}"}', LOGGED=SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (SECRET,), None)
        record.exc_info = sys.exc_info()
    assert SecretFilter().filter(record)
    assert SECRET not in record.getMessage() and SECRET not in (record.exc_text or "")


def _key_seen(server: HttpServer) -> list[str | None]:
    return [r.headers.get("x-api-key") for r in server.requests]


async def _http(url: str, ctx: ProbeContext) -> Outcome:
    spec = HttpSpec(
        url=url,
        method="POST",
        body="payload",
        headers={"X-Api-Key": SECRET, "Cookie": "sid=" + SECRET},
    )
    return (await run_probe("svc/http", "http", spec, 5.0, ctx)).outcome


async def test_redirect_to_another_origin_drops_check_headers_cookies_and_body() -> None:
    ctx = probe_context()
    try:
        async with HttpServer({"/": lambda _: Reply(200)}) as other:
            away = {"/": lambda _: Reply(307, headers={"Location": other.url("/")})}
            async with HttpServer(away) as first:
                assert await _http(first.url(), ctx) is Outcome.OK
                assert _key_seen(first) == [SECRET]
            seen = other.requests[0]
            assert "x-api-key" not in seen.headers and "cookie" not in seen.headers
            assert seen.body == b"" and SECRET.encode() not in repr(seen).encode()
    finally:
        await ctx.aclose()


async def test_redirect_within_the_origin_keeps_check_headers() -> None:
    ctx = probe_context()
    routes = {"/": lambda _: Reply(307, headers={"Location": "/next"}), "/next": lambda _: Reply()}
    try:
        async with HttpServer(routes) as server:
            assert await _http(server.url(), ctx) is Outcome.OK
            assert _key_seen(server) == [SECRET, SECRET]
            assert server.requests[1].body == b"payload"
    finally:
        await ctx.aclose()
