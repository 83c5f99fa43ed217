"""What HTTP receivers share: one client per receiver, and how an answer is classified."""

from __future__ import annotations

import logging

import httpx

from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from checks.secrets import SECRETS, redacted_origin

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
    where = named(receiver, url)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
        raise TransientDeliveryError(f"{where}: {_cause(exc, url)}") from None
    except httpx.HTTPError as exc:
        raise PermanentDeliveryError(f"{where}: {_cause(exc, url)}") from None
    check_status(receiver, url, response)


def named(receiver: str, url: str) -> str:
    """How errors name a receiver: its name and origin, never the URL's path, query or
    userinfo, where webhook tokens and passwords live."""
    return f"{receiver!r} ({redacted_origin(url)})"


def _cause(exc: Exception, url: str) -> str:
    # httpx may quote the request URL in its message; the secret mask covers the rest
    return SECRETS.mask(f"{type(exc).__name__}: {exc}".replace(url, redacted_origin(url)))


def check_status(receiver: str, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    body = SECRETS.mask(response.text[:_BODY_LOGGED])
    text = f"{named(receiver, url)} answered {status}: {body!r}"
    if status >= 500 or status in _RETRY_STATUS:
        raise TransientDeliveryError(text)
    log.error("alert receiver refused a notification: %s", text)
    raise PermanentDeliveryError(text)
