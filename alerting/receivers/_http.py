"""What HTTP receivers share: one client per receiver, and how an answer is classified."""

from __future__ import annotations

import logging

import httpx

from alerting.errors import PermanentDeliveryError, TransientDeliveryError

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 425, 429}
_BODY_LOGGED = 500  # characters of a refusal's body kept in the error


def new_client(timeout: float) -> httpx.AsyncClient:
    """The receiver's own client: bounded timeouts, no redirects (a POST must not wander)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        headers={"User-Agent": "vigia"},
    )


async def post(
    client: httpx.AsyncClient, receiver: str, url: str, body: bytes, headers: dict[str, str]
) -> None:
    """POST `body`; return on 2xx, else raise the delivery error its status deserves."""
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
        raise TransientDeliveryError(f"{receiver}: {url}: {type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise PermanentDeliveryError(f"{receiver}: {url}: {type(exc).__name__}: {exc}") from exc
    check_status(receiver, url, response)


def check_status(receiver: str, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    text = f"{receiver}: {url} answered {status}: {response.text[:_BODY_LOGGED]!r}"
    if status >= 500 or status in _RETRY_STATUS:
        raise TransientDeliveryError(text)
    log.error("alert receiver refused a notification: %s", text)
    raise PermanentDeliveryError(text)
