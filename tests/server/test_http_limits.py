"""Limits before work, against the real agent process on a loopback port (issue #12, 3 and 9).

Hostile bodies are refused from their headers or cut while they stream, never buffered;
slowloris header senders are cut; other Host names get 400; every answer has security headers.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from agent.api.auth import hash_token, new_token

pytestmark = pytest.mark.slow

CATALOG = """\
version: 1
defaults: {interval: 1h, timeout: 5s}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    checks: [{heartbeat: {max_silence: 1h}}]
"""
MIB = 1024 * 1024
HEADER_TIMEOUT = 2.0


@dataclass
class Served:
    port: int
    proc: subprocess.Popen[bytes]
    operator: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("http-limits")
    (home / "services.yaml").write_text(CATALOG, encoding="utf-8")
    operator = new_token()
    (home / "vigia.yaml").write_text(
        f"tokens: [{{name: ops, role: operator, hash: '{hash_token(operator)}'}}]\n"
        f"header_timeout: {HEADER_TIMEOUT}s\n",
        encoding="utf-8",
    )
    port = _free_port()
    command = [sys.executable, "-m", "agent.cli", "--config", str(home / "vigia.yaml")]
    command += ["--catalog", str(home / "services.yaml"), "--db", str(home / "vigia.db")]
    with open(home / "agent.log", "ab") as log:
        proc = subprocess.Popen(
            [*command, "run", "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log
        )
    try:
        _wait_healthy(port, home / "agent.log")
        yield Served(port, proc, operator)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_healthy(port: int, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"agent did not start: {log.read_text()}")


def _stream_body(port: int, head: str, total: int, chunked: bool) -> int:
    """Send `head` then up to `total` body bytes, stopping once the server answers; its status."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    chunk = b"x" * (64 * 1024)
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{head}Host: 127.0.0.1\r\n{framing}\r\n\r\n".encode())
        sent = 0
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(frame)
            except OSError:  # the server answered and closed while we were sending
                break
            sent += len(chunk)
        reply = sock.recv(4096)
    return int(reply.split(b" ", 2)[1])


POST_MAINTENANCE = "POST /api/v1/maintenance HTTP/1.1\r\nContent-Type: application/json\r\n"


def test_a_256_mib_unauthenticated_body_is_refused_unread_and_memory_stays_flat(
    served: Served,
) -> None:
    before = served.rss()
    statuses = [
        _stream_body(served.port, POST_MAINTENANCE, 256 * MIB, chunked=False),
        _stream_body(served.port, POST_MAINTENANCE, 256 * MIB, chunked=True),
        _stream_body(served.port, "POST /login HTTP/1.1\r\n", 256 * MIB, chunked=True),
    ]
    grown = (served.rss() - before) / MIB
    print(f"server RSS {before / MIB:.0f} MiB -> {served.rss() / MIB:.0f} MiB")
    assert statuses == [413, 401, 413]
    assert grown < 20, f"RSS grew {grown:.0f} MiB"


def test_an_authenticated_streamed_body_is_cut_at_the_limit(served: Served) -> None:
    before = served.rss()
    head = POST_MAINTENANCE + f"Authorization: Bearer {served.operator}\r\n"
    assert _stream_body(served.port, head, 256 * MIB, chunked=True) == 413
    assert (served.rss() - before) / MIB < 20
    ok = httpx.get(
        f"{served.url}/api/v1/services", headers={"Authorization": f"Bearer {served.operator}"}
    )
    assert ok.status_code == 200  # the agent still serves


def test_slowloris_header_senders_are_cut_while_a_normal_request_succeeds(served: Served) -> None:
    sockets = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(500)]
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    try:
        for sock in sockets:
            sock.setblocking(False)
        open_ = set(sockets)
        deadline = time.monotonic() + HEADER_TIMEOUT + 4
        for byte_index in range(len(request)):
            if not open_ or time.monotonic() > deadline:
                break
            for sock in list(open_):
                try:
                    sock.send(request[byte_index : byte_index + 1])
                    if select.select([sock], [], [], 0)[0] and sock.recv(1) == b"":
                        open_.discard(sock)
                except OSError:
                    open_.discard(sock)
            if byte_index == 1:
                normal = httpx.get(f"{served.url}/healthz", timeout=5)
                assert normal.status_code in (200, 503)  # answered: healthy or not, not starved
            time.sleep(1)
        assert not open_, f"{len(open_)} of 500 slow header senders still held"
    finally:
        for sock in sockets:
            sock.close()


def _raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and b"connection: close" not in reply.lower():
                break
    return reply


def test_headers_over_16_kib_get_431_whether_sent_at_once_or_in_pieces(served: Served) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (20 * 1024)
    assert _raw_request(served.port, big + b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    assert _raw_request(served.port, big).startswith(b"HTTP/1.1 431")  # never completed
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(200))
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n"
    assert _raw_request(served.port, request).startswith(b"HTTP/1.1 431")
    assert httpx.get(f"{served.url}/healthz").status_code in (200, 503)


def test_a_body_sent_with_its_headers_is_not_counted_as_headers(served: Served) -> None:
    body = b'{"service": "portal", "reason": "' + b"r" * (30 * 1024) + b'"}'
    head = (POST_MAINTENANCE + f"Authorization: Bearer {served.operator}\r\n").encode()
    request = head + b"Host: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    status = int(_raw_request(served.port, request).split(b" ", 2)[1])
    assert status not in (431, 400) and status < 500  # the app judged it: headers were fine


def test_a_body_whose_end_arrives_in_a_later_read_is_not_counted_as_headers(
    served: Served,
) -> None:
    """A probe worker's batch (~150 KiB) on a kept-alive connection: the read that ends the
    body also ends the message; it was counted as the next request's headers (431)."""
    body = b'{"service": "portal", "reason": "' + b"r" * (40 * 1024) + b'"}'
    head = (POST_MAINTENANCE + f"Authorization: Bearer {served.operator}\r\n").encode()
    request = head + b"Host: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        for _ in range(3):  # one connection, kept alive
            sock.sendall(request + body[:100])
            time.sleep(0.2)  # the server reads the headers and the body's start alone
            sock.sendall(body[100:])
            reply = _one_response(sock)
            status = int(reply.split(b" ", 2)[1])
            assert status not in (431, 400) and status < 500, reply[:200]
            assert b"connection: close" not in reply.lower()


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (headers and its Content-Length of body) from a kept-alive socket."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_a_foreign_host_name_gets_400(served: Served) -> None:
    bad = httpx.get(f"{served.url}/healthz", headers={"Host": "attacker.example"})
    assert bad.status_code == 400
    for good in ("127.0.0.1", "localhost", f"localhost:{served.port}"):
        assert httpx.get(f"{served.url}/healthz", headers={"Host": good}).status_code != 400


@pytest.mark.parametrize("path", ["/login", "/", "/api/v1/services", "/healthz"])
def test_every_answer_carries_the_security_headers(served: Served, path: str) -> None:
    response = httpx.get(f"{served.url}{path}")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def test_static_assets_keep_their_caching(served: Served) -> None:
    response = httpx.get(f"{served.url}/static/console.js")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in response.headers.get("cache-control", "")
