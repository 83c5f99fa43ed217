"""Failed sign-ins and bad tokens are logged, counted and rate limited (issue #12, item 9):
before, someone trying tokens left no trace the SOC could see and could try without limit."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from agent.api.auth_failures import MAX_FAILURES, AuthFailures
from tests.api.conftest import Running


def _failures(running: Running, kind: str) -> float:
    text = generate_latest(running.agent.registry).decode()
    line = next(
        x for x in text.splitlines() if x.startswith(f'vigia_auth_failures_total{{kind="{kind}"}}')
    )
    return float(line.split()[-1])


async def test_a_bad_token_is_logged_without_the_token_and_counted(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "vigia_not-a-real-token-but-a-long-guess"
    with caplog.at_level(logging.WARNING):
        answer = await running.client.get(
            "/api/v1/services", headers={"Authorization": f"Bearer {wrong}"}
        )
    assert answer.status_code == 401
    assert _failures(running, "token") == 1
    assert "authentication failed (token) from" in caplog.text and wrong not in caplog.text


async def test_after_too_many_bad_tokens_a_client_gets_429_with_retry_after(
    running: Running,
) -> None:
    bad = {"Authorization": "Bearer vigia_guess"}
    for _ in range(MAX_FAILURES):
        assert (await running.client.get("/api/v1/services", headers=bad)).status_code == 401
    refused = await running.client.get("/api/v1/services", headers=running.auth("viewer"))
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _failures(running, "token") == MAX_FAILURES  # refused tries are not counted again


async def test_failed_console_logins_are_counted_and_then_refused(running: Running) -> None:
    for _ in range(MAX_FAILURES):
        answer = await running.client.post("/login", data={"token": "wrong", "next": "/"})
        assert answer.status_code == 401
    assert _failures(running, "login") == MAX_FAILURES
    answer = await running.client.post("/login", data={"token": running.tokens["viewer"]})
    assert answer.status_code == 429 and "Retry-After" in answer.headers


def test_a_client_may_try_again_once_its_failures_leave_the_window() -> None:
    now = [0.0]
    failures = AuthFailures(lambda: now[0], max_failures=3, window=60)
    for _ in range(3):
        failures.note("login", "10.0.0.1")
    assert failures.retry_after("10.0.0.1") == 60 and failures.retry_after("10.0.0.2") is None
    now[0] = 59.5
    assert failures.retry_after("10.0.0.1") == pytest.approx(0.5)
    now[0] = 60.0
    assert failures.retry_after("10.0.0.1") is None
