"""The status page answered from memory by the HTTP server's protocol, on a real loopback
socket: the same bytes as the app gives (but the Date), and everything unusual left to the app.

The app path is what `tests/status/test_status_page.py` checks in depth; here each request is
sent twice, first to a server without the memory hook, then to one with it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from agent.server import create_app, serve
from agent.status.page import StatusPages
from tests.api.conftest import Running

PAGE = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)

    def without_date(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return self.status, sorted(h for h in self.headers if h[0] != b"date"), self.body


@dataclass
class Served:
    port: int
    pages: StatusPages

    async def ask(self, *requests: bytes, head: bool = False) -> list[Answer]:
        """Sends `requests` in one write (pipelined) and reads as many answers."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(b"".join(requests))
            return [await _read(reader, head) for _ in requests]
        finally:
            writer.close()


async def _read(reader: asyncio.StreamReader, head: bool) -> Answer:
    block = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = block.rstrip(b"\r\n").split(b"\r\n")
    headers = [
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in lines[1:])
    ]
    answer = Answer(int(lines[0].split()[1]), headers, b"")
    length = int(answer.header(b"content-length") or b"0")
    if length and not head:
        answer.body = await asyncio.wait_for(reader.readexactly(length), 5)
    return answer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serving(app: Any, from_memory: bool) -> tuple[Served, Any]:
    pages: StatusPages = app.state.vigia_status
    port, stop = _free_port(), asyncio.Event()
    answer = pages.answer if from_memory else None
    task = asyncio.create_task(serve(app, f"127.0.0.1:{port}", stop, pages.agent.settings, answer))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    return Served(port, pages), (stop, task)


@pytest.fixture
async def servers(running: Running) -> AsyncIterator[tuple[Served, Served]]:
    """One app (one cached view) served twice: without the memory hook and with it."""
    app = create_app(running.agent.registry, running.agent.health, agent=running.agent)
    plain, plain_stop = await _serving(app, from_memory=False)
    memory, memory_stop = await _serving(app, from_memory=True)
    yield plain, memory
    for stop, task in (plain_stop, memory_stop):
        stop.set()
        await task


@pytest.fixture
def more_settings() -> dict[str, Any]:
    return {"status_page": {"enabled": True, "refresh": "15s"}}


def _request(path: bytes = b"/status", extra: bytes = b"", method: bytes = b"GET") -> bytes:
    return method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


VARIANTS = {
    "gzip": _request(extra=b"Accept-Encoding: gzip, br\r\n"),
    "identity": _request(),
    "english": _request(b"/status?lang=en"),
    "feed": _request(b"/status/feed.atom"),
    "trailing slash": _request(b"/status/"),
}


async def _warm(memory: Served) -> None:
    """The first answers come from the app, which builds the view and renders each variant."""
    await memory.ask(*VARIANTS.values())


async def test_each_variant_is_the_apps_answer_from_memory(servers: tuple[Served, Served]) -> None:
    plain, memory = servers
    await _warm(memory)
    before = memory.pages.answered_from_memory
    for name, request in VARIANTS.items():
        [expected] = await plain.ask(request)
        [got] = await memory.ask(request)
        assert expected.status == 200, name
        assert got.without_date() == expected.without_date(), name
        assert got.header(b"date") and got.header(b"content-security-policy"), name
    assert memory.pages.answered_from_memory - before == len(VARIANTS)


async def test_revalidation_and_head_from_memory(servers: tuple[Served, Served]) -> None:
    plain, memory = servers
    await _warm(memory)
    [page] = await memory.ask(VARIANTS["gzip"])
    etag = page.header(b"etag") or b""
    revalidate = _request(extra=b"Accept-Encoding: gzip\r\nIf-None-Match: " + etag + b"\r\n")
    [expected], [got] = await plain.ask(revalidate), await memory.ask(revalidate)
    assert got.status == 304 and got.body == b"" and got.without_date() == expected.without_date()
    head = _request(method=b"HEAD")
    [expected], [got] = await plain.ask(head, head=True), await memory.ask(head, head=True)
    assert got.status == 200 and got.header(b"content-length") == expected.header(b"content-length")
    assert got.without_date() == expected.without_date()


UNUSUAL = {
    "POST": (_request(method=b"POST", extra=b"Content-Length: 0\r\n"), 405),
    "foreign Host": (b"GET /status HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400),
    "bad language": (_request(b"/status?lang=xx"), 400),
    "a body": (_request(extra=b"Content-Length: 2\r\n") + b"ab", 200),
    "another path": (_request(b"/healthz"), 200),
}


async def test_anything_unusual_goes_to_the_app(servers: tuple[Served, Served]) -> None:
    plain, memory = servers
    await _warm(memory)
    before = memory.pages.answered_from_memory
    for name, (request, status) in UNUSUAL.items():
        [expected], [got] = await plain.ask(request), await memory.ask(request)
        assert got.status == expected.status == status, name
    closing = _request(extra=b"Connection: close\r\n")
    [got] = await memory.ask(closing)
    assert got.status == 200
    assert memory.pages.answered_from_memory == before  # every one of them went to the app


async def test_pipelined_requests_are_answered_in_order(servers: tuple[Served, Served]) -> None:
    _, memory = servers
    await _warm(memory)
    before = memory.pages.answered_from_memory
    sequence = [VARIANTS["gzip"], _request(b"/healthz"), VARIANTS["feed"], _request(b"/nowhere")]
    answers = await memory.ask(*sequence)
    assert [a.status for a in answers] == [200, 200, 200, 404]
    assert answers[0].header(b"content-encoding") == b"gzip"
    assert b"healthy" in answers[1].body and answers[2].body.startswith(b"<?xml")
    # the first from memory; the feed queued behind /healthz, still in the app, goes to the app
    assert memory.pages.answered_from_memory - before == 1


async def test_an_expired_or_disabled_page_goes_to_the_app(
    servers: tuple[Served, Served], running: Running
) -> None:
    _, memory = servers
    await _warm(memory)
    builds = memory.pages.builds
    memory.pages._built_at -= 16  # the view is older than its 15 s refresh
    before = memory.pages.answered_from_memory
    [fresh] = await memory.ask(VARIANTS["identity"])
    assert fresh.status == 200 and memory.pages.builds == builds + 1
    assert memory.pages.answered_from_memory == before  # the app rebuilt and answered
    [again] = await memory.ask(VARIANTS["identity"])
    assert again.body == fresh.body and memory.pages.answered_from_memory == before + 1
    off = running.agent.settings.status_page.model_copy(update={"enabled": False})
    running.agent.settings = running.agent.settings.model_copy(update={"status_page": off})
    [gone] = await memory.ask(VARIANTS["identity"])
    assert gone.status == 404
