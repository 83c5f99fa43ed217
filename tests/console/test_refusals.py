"""The shared operations' domain errors as the console shows them: the same message pages as
when it caught the API's HTTPException (status and sentence)."""

from __future__ import annotations

import re

import pytest

from agent.console.refusals import refusal
from agent.operations.errors import Conflict, Invalid, NotFound, OperationError
from tests.api.conftest import Running

NOT_FOUND = "Não encontrado."


class _NoSuchWindow(NotFound):
    pass


@pytest.mark.parametrize(
    ("error", "page"),
    [
        (NotFound("x"), (404, "not_found")),
        (_NoSuchWindow("x"), (404, "not_found")),
        (Conflict("x"), (409, "archive_altered")),
        (Invalid("x"), (422, "public_message_bad")),
    ],
)
def test_each_domain_error_has_one_page(error: OperationError, page: tuple[int, str]) -> None:
    assert refusal(error) == page


async def _operator_csrf(running: Running) -> str:
    signed_in = await running.client.post(
        "/login", data={"token": running.tokens["operator"], "next": "/"}
    )
    assert signed_in.status_code == 303
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', (await running.client.get("/")).text)
    assert match
    return match.group(1)


async def test_acknowledging_an_alert_that_is_not_active_shows_not_found(
    running: Running,
) -> None:
    csrf = await _operator_csrf(running)
    form = {"csrf": csrf, "alert_id": "ServiceDown/nope", "comment": "x"}
    answer = await running.client.post("/alerts/ack", data=form)
    assert answer.status_code == 404 and NOT_FOUND in answer.text


async def test_annotating_an_incident_that_does_not_exist_shows_not_found(
    running: Running,
) -> None:
    csrf = await _operator_csrf(running)
    form = {"csrf": csrf, "field": "note", "text": "x"}
    answer = await running.client.post("/incidents/42/annotate", data=form)
    assert answer.status_code == 404 and NOT_FOUND in answer.text
    assert running.store.annotations(42) == []


async def test_pages_of_missing_incidents_and_reports_show_not_found(running: Running) -> None:
    await _operator_csrf(running)
    for url in ("/incidents/42", "/reports/archive/77"):
        answer = await running.client.get(url)
        assert (answer.status_code, NOT_FOUND in answer.text) == (404, True), url


async def test_a_message_about_a_service_off_the_status_page_is_refused(
    running: Running,
) -> None:
    csrf = await _operator_csrf(running)
    answer = await running.client.post(
        "/services/portal/public-message", data={"csrf": csrf, "text": "em manutenção"}
    )
    assert answer.status_code == 422 and "Mensagem pública recusada" in answer.text
