"""Cookies of one redirect chain (or of a scenario's steps, checks/scenario.py): what the
chain's servers set on a redirect goes with the next hop, as browsers, curl -L and
blackbox_exporter do (a login that sets its session on a 302 and checks it on the target).

The jar belongs to one probe run and dies with it: no session is carried from one run to the
next (a monitor sees what a new visitor sees). It is built only when a redirect response sets a
cookie, so a plain GET, or a chain that sets none, costs nothing. Which cookie goes where is the
standard library's cookie policy (domain, path, secure, expiry: RFC 6265 as browsers apply it).
"""

from __future__ import annotations

import httpx


class ChainCookies:
    """The cookies the servers of one chain set, and the Cookie header of each next hop."""

    __slots__ = ("_jar", "_own")

    def __init__(self, current: httpx.Request) -> None:
        """`current`: the request whose answer set the first cookie; its Cookie header, if
        any, is the check's own (the jar had none to add yet)."""
        self._jar = httpx.Cookies()
        # the check's own Cookie header goes with every hop of its origin, before the jar's
        self._own = current.headers.get("Cookie")

    @classmethod
    def session(cls) -> ChainCookies:
        """An empty jar for a scenario: every step's requests send and keep its cookies."""
        return cls(httpx.Request("GET", "http://session.invalid/"))

    def start_step(self, request: httpx.Request) -> None:
        """A scenario step's first request: its own Cookie header (if the step sets one) then
        the jar's."""
        self._own = request.headers.get("Cookie")
        self.send_with(request)

    def keep(self, response: httpx.Response) -> None:
        """Remember what `response` set (its request is the one that got it)."""
        self._jar.extract_cookies(response)

    def send_with(self, request: httpx.Request) -> None:
        """Set `request`'s Cookie header: the check's own (while the chain stays on its origin,
        see `redirect_request`) then the jar's for the request's URL."""
        if "Cookie" not in request.headers:
            self._own = None  # another origin: the check's own headers are gone for good
        probe = httpx.Request(request.method, request.url)
        self._jar.set_cookie_header(probe)
        parts = [part for part in (self._own, probe.headers.get("Cookie")) if part]
        if parts:
            request.headers["Cookie"] = "; ".join(parts)
        else:
            request.headers.pop("Cookie", None)


def sets_cookies(response: httpx.Response) -> bool:
    return "set-cookie" in response.headers
