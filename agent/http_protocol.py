"""uvicorn's httptools protocol with a header-read timeout, a header size cap and answers
from memory.

uvicorn times out idle keep-alive connections but not a request whose headers trickle in a
byte at a time, so 500 such sockets are held for ever. Here each request's headers must be
complete within `header_timeout` seconds of the connection (or of the request's first byte),
and within `max_header_bytes` (llhttp itself buffers a header of any length). httptools rather
than h11: it parses in C (the cost per request is in bench/RESULTS.md, status page).

An `answer` hook may answer a request from memory once its headers are parsed: the bytes are
written at once and no ASGI cycle, task or middleware runs. It is for responses already made
(the public status page under a crowd); whatever the hook returns None for goes to the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 28\r\n"
    b"connection: close\r\n\r\nrequest headers over 16 KiB\n"
)


class HeadersTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class MemoryAnswer:
    status: int
    head: bytes  # header lines, each ending in CRLF, without the server's Date and Server
    body: bytes


# (method, raw path, query string, headers with lower-case names) -> an answer, or None
AnswerHook = Callable[[bytes, bytes, bytes, list[tuple[bytes, bytes]]], MemoryAnswer | None]


class _NoWaiter:
    def set(self) -> None:
        pass  # uvicorn wakes the cycle's app on connection loss; no app runs here


class _Answered:
    """Stands for the ASGI cycle of a request answered from memory: already complete."""

    response_complete = True
    keep_alive = True
    disconnected = False
    message_event = _NoWaiter()


ANSWERED: Any = _Answered()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout = 10.0
    max_header_bytes = 16 * 1024
    answer: AnswerHook | None = None

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
        if not self._answered_from_memory():
            super().on_headers_complete()

    def _answered_from_memory(self) -> bool:
        hook = type(self).answer
        if hook is None or (self.cycle is not None and not self.cycle.response_complete):
            return False  # no hook, or a request still in the app: keep the order of answers
        parser = self.parser
        if parser.get_http_version() != "1.1" or not parser.should_keep_alive():
            return False
        if parser.should_upgrade():
            return False
        url = httptools.parse_url(self.url)
        found = hook(parser.get_method(), url.path, url.query or b"", self.headers)
        if found is None:
            return False
        self._write(found)
        self.cycle = ANSWERED
        self.loop.call_soon(self._after_memory_answer)
        return True

    def _write(self, found: MemoryAnswer) -> None:
        defaults = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        self.transport.write(
            b"".join((STATUS_LINE[found.status], defaults, found.head, b"\r\n", found.body))
        )

    def _after_memory_answer(self) -> None:
        """After the parser's pass: count the request and arm keep-alive, unless another
        request (pipelined behind it) has started meanwhile and will do that itself."""
        if self.cycle is ANSWERED:
            self.on_response_complete()
        else:
            self.server_state.total_requests += 1

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


def server_protocol(
    seconds: float, answer: AnswerHook | None = None
) -> type[HeaderTimeoutProtocol]:
    attributes: dict[str, Any] = {
        "header_timeout": seconds,
        "answer": staticmethod(answer) if answer else None,
    }
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), attributes)
