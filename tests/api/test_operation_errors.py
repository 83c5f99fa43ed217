"""The shared operations' domain errors as the API answers them: one handler, and the same
status and body as when each route raised its own HTTPException."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agent.api.errors import operation_error, status_of
from agent.operations.errors import Conflict, Invalid, NotFound, OperationError
from tests.api.conftest import Running


class _NoSuchWindow(NotFound):
    """A refinement an operation might raise: it answers as its parent does."""


@pytest.mark.parametrize(
    ("error", "status"),
    [(NotFound("x"), 404), (Invalid("x"), 422), (Conflict("x"), 409), (_NoSuchWindow("x"), 404)],
)
def test_each_domain_error_has_one_status(error: OperationError, status: int) -> None:
    assert status_of(error) == status


async def test_the_handler_answers_with_the_message_as_detail() -> None:
    app = FastAPI()
    app.add_exception_handler(OperationError, operation_error)  # type: ignore[arg-type]

    @app.get("/thing")
    async def thing() -> None:
        raise Invalid("from must be before to (2026-01-01 .. 2026-12-31)")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/thing")
    assert answer.status_code == 422
    assert answer.json() == {"detail": "from must be before to (2026-01-01 .. 2026-12-31)"}


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "detail"),
    [
        ("POST", "/alerts/ServiceDown/nope/ack", {}, 404, "no active alert 'ServiceDown/nope'"),
        ("GET", "/incidents/42", None, 404, "incident 42 does not exist"),
        (
            "POST", "/incidents/42/annotations", {"field": "note", "text": "x"},
            404, "incident 42 does not exist",
        ),
        (
            "POST", "/public-messages", {"incident": 42, "text": "x"},
            404, "incident 42 does not exist",
        ),
        (
            "POST", "/public-messages", {"service": "portal", "text": "x"}, 422,
            "service 'portal' is not on the status page (public: true in the catalogue)",
        ),
        (
            "POST", "/public-messages", {"service": "nope", "text": "x"}, 422,
            "service 'nope' is not in the catalogue",
        ),
        ("GET", "/indicators?from=2026-01-01", None, 422, "give both from and to, or a period"),
        ("GET", "/reports/archive/999", None, 404, "report 999 is not in the archive"),
    ],
)  # fmt: skip
async def test_a_refused_operation_answers_as_before(
    running: Running, method: str, url: str, body: object, status: int, detail: str
) -> None:
    answer = await running.client.request(
        method, f"/api/v1{url}", json=body, headers=running.auth("operator")
    )
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})
