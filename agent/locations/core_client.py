"""A probe worker's side of the wire: fetch the assignment, push result batches (issue #14).

Outbound HTTPS only: the worker opens every connection, so a remote site needs no open port.
The core's certificate is verified, against the system's CAs or a private CA (`ca_file`).
Failures come in two kinds the worker treats differently: `CoreUnreachable` (network, timeout,
5xx: keep spooling and retry) and `CoreRefused` (a 4xx: the core understood and said no, so
retrying the same request cannot help; the worker must change something first).
"""

from __future__ import annotations

import ssl
from typing import TypeVar

import httpx
from pydantic import ValidationError

from agent.locations.wire import Assignment, BatchAck, ResultBatch
from checks.secrets import SECRETS

ASSIGNMENT_PATH = "/api/v1/probe/assignment"
RESULTS_PATH = "/api/v1/probe/results"
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_DETAIL_CHARS = 500
Document = TypeVar("Document", Assignment, BatchAck)


class CoreUnreachable(Exception):
    """The core did not answer usefully (network, TLS, timeout, 5xx): retry later."""


class CoreRefused(Exception):
    """The core refused the request (4xx), with its reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the core refused it ({status}): {detail}")
        self.status = status
        self.detail = detail


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification on, with the private CA when one is given (not added to the system's)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class CoreClient:
    def __init__(
        self,
        core_url: str,
        token: str,
        ca_file: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        SECRETS.add(token)  # the token never appears in a log line or an error
        self.core_url = core_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.core_url,
            headers={"Authorization": f"Bearer {token}"},
            verify=tls_context(ca_file) if core_url.startswith("https:") else True,
            timeout=REQUEST_TIMEOUT_SECONDS,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def assignment(self) -> Assignment:
        response = await self._send("GET", ASSIGNMENT_PATH)
        return _parse(Assignment, response)

    async def push(self, batch: ResultBatch) -> BatchAck:
        body = batch.model_dump_json().encode()
        response = await self._send(
            "POST", RESULTS_PATH, content=body, headers={"Content-Type": "application/json"}
        )
        return _parse(BatchAck, response)

    async def _send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            reason = SECRETS.mask(str(exc)) or type(exc).__name__
            raise CoreUnreachable(f"{self.core_url}: {reason}") from None
        if response.status_code >= 500:
            raise CoreUnreachable(f"{self.core_url}: {response.status_code} {_detail(response)}")
        if response.status_code >= 400:
            raise CoreRefused(response.status_code, _detail(response))
        return response


def _parse(model: type[Document], response: httpx.Response) -> Document:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise CoreUnreachable(f"the core answered a malformed {model.__name__}: {exc}") from None


def _detail(response: httpx.Response) -> str:
    """The core's `detail` (FastAPI's error body), or the start of the body."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = response.text
    return SECRETS.mask(str(detail))[:MAX_DETAIL_CHARS]
