"""The requests of an HTTP probe: the first one as the spec says, and the next one of a
redirect chain as a browser makes it."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from checks.http_clients import DEFAULT_HEADERS
from checks.http_run import Run

# The probe's own deadline (`asyncio.timeout` in checks/http.py's `probe`) bounds the whole
# exchange, body included, so httpcore needs no timer of its own per connect, read and write:
# one timer per probe instead of one per socket operation.
_NO_STEP_TIMEOUTS = httpx.Timeout(None).as_dict()


def first_request(run: Run) -> httpx.Request:
    spec = run.spec
    headers = httpx.Headers(DEFAULT_HEADERS)
    headers.update(spec.headers)
    authorization = _authorization(run)
    if authorization:
        headers["Authorization"] = authorization  # dropped on a redirect to another origin
    extensions: dict[str, Any] = {"timeout": _NO_STEP_TIMEOUTS, "trace": run.trace}
    if spec.server_name:
        extensions["sni_hostname"] = spec.server_name  # SNI and the name verified
    return httpx.Request(
        spec.method,
        spec.request_url,  # parsed once per spec
        headers=headers,
        content=spec.content,
        extensions=extensions,
    )


def redirect_request(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """The request a browser makes next for a redirect response, or None when it is not one.

    As httpx's client does (RFC 9110 15.4): 303 becomes GET (but HEAD), and so do 301 and 302
    after a POST, dropping the body; another origin gets no header or body the check set; Host
    follows the new URL. A Location that is not a URL raises `httpx.RemoteProtocolError`.
    """
    if not response.has_redirect_location:
        return None
    try:
        url = request.url.join(response.headers["Location"])
    except httpx.InvalidURL as bad:
        raise httpx.RemoteProtocolError(f"invalid redirect location: {bad}") from None
    method = request.method
    if (response.status_code == 303 and method != "HEAD") or (
        response.status_code in (301, 302) and method == "POST"
    ):
        method = "GET"
    headers = httpx.Headers(request.headers)
    headers.pop("Host", None)
    content = None
    if url.scheme != request.url.scheme or url.netloc != request.url.netloc:
        # another origin gets none of what the check set (X-Api-Key, Cookie, Authorization)
        # and no body: only the agent's own defaults, as if it asked a stranger
        headers = httpx.Headers(DEFAULT_HEADERS)
        if method not in ("GET", "HEAD"):
            method = "GET"
    elif method != request.method:
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
    elif request.method not in ("GET", "HEAD"):
        content = request.content  # 307/308 repeat the request, body included
    extensions = request.extensions
    if "sni_hostname" in extensions and url.host != request.url.host:
        # the check's server_name is its own host's: another host is asked by its own name
        extensions = {k: v for k, v in extensions.items() if k != "sni_hostname"}
    return httpx.Request(method, url, headers=headers, content=content, extensions=extensions)


def _authorization(run: Run) -> str | None:
    auth = run.spec.auth
    if auth is None:
        return None
    if auth.oauth2 is not None:
        return f"Bearer {run.bearer}"
    if auth.bearer is not None:
        return f"Bearer {auth.bearer.get_secret_value()}"
    assert auth.basic is not None  # the spec validates exactly one scheme
    pair = f"{auth.basic.username}:{auth.basic.password.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")
