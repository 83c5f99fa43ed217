"""uvicorn's httptools protocol with a header-read timeout and a header size cap.

uvicorn times out idle keep-alive connections but not a request whose headers trickle in a
byte at a time, so 500 such sockets are held for ever. Here each request's headers must be
complete within `header_timeout` seconds of the connection (or of the request's first byte),
and within `max_header_bytes` (llhttp itself buffers a header of any length). httptools rather
than h11: it parses in C (the cost per request is in bench/RESULTS.md, status page).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 28\r\n"
    b"connection: close\r\n\r\nrequest headers over 16 KiB\n"
)


class HeadersTooLarge(Exception):
    pass


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout = 10.0
    max_header_bytes = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0  # the request line and headers parsed so far
        self._unparsed_bytes = 0  # bytes received while no header block ended
        self._headers_completed = 0
        self._messages_ended = False  # a message ended within the current read
        self._refused = False
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._reading_headers and self._header_timer is None:
            self._arm()  # the first byte of a later request on a kept-alive connection
        completed_before = self._headers_completed
        self._messages_ended = False
        super().data_received(data)
        ended_none = self._headers_completed == completed_before
        if self._messages_ended:
            # this read ended a message (a body's tail): its bytes are not headers. What of
            # the next request's headers it holds is at most one read, counted from the next.
            self._unparsed_bytes = 0
        elif self._reading_headers and ended_none and not self._refused:
            self._unparsed_bytes += len(data)  # a header still arriving, or a trickle of them
            if self._unparsed_bytes > self.max_header_bytes:
                self._refuse_oversized()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._headers_completed += 1
        self._disarm()  # the body and the app have their own bounds
        if self._header_bytes > self.max_header_bytes:
            self._refuse_oversized()
            raise HeadersTooLarge  # stops the parser: the app never sees this request
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_headers = True  # what comes next is the next request's headers
        self._messages_ended = True
        self._header_bytes = self._unparsed_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal already answered 431
            super().send_400_response(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _refuse_oversized(self) -> None:
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self._reading_headers and not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    attributes: dict[str, Any] = {"header_timeout": seconds}
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), attributes)
