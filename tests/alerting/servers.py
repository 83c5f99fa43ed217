"""Real loopback servers for the receiver tests, and sample notifications.

- `HttpRecorder`: a threaded HTTP server that records each request and answers with the next
  status of a script (then 200).
- `Alertmanager`: the Debian `prometheus-alertmanager` binary on a free loopback port, with a CCO
  and a SOC route; stoppable and restartable on the same port.
- `SmtpServer`: aiosmtpd with STARTTLS (a trustme certificate) and AUTH.
- `SyslogUdp` / `SyslogTcp`: asyncio listeners collecting raw messages (TCP: octet-counted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from alerting.notification import AlertStatus, Notification

T0 = datetime(2024, 6, 10, 6, 0, tzinfo=UTC)


def with_label(sent: Notification, name: str, value: str) -> Notification:
    """`sent` with one more label, whose name need not be a Python identifier."""
    return dataclasses.replace(sent, labels={**sent.labels, name: value})


def notification(
    alert_id: str = "service-down:portal",
    status: AlertStatus = AlertStatus.FIRING,
    *,
    team: str = "cco",
    severity: str = "critical",
    service: str = "portal",
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    duration_seconds: float | None = None,
    **labels: str,
) -> Notification:
    return Notification(
        alert_id=alert_id,
        status=status,
        labels={
            "alertname": alert_id.split(":")[0],
            "service": service,
            "tier": "platina",
            "team": team,
            "severity": severity,
            **labels,
        },
        annotations={"summary": f"{service} is down", "description": "3 probes failed"},
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=f"http://vigia.example/incidents/{service}",
        duration_seconds=duration_seconds,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- HTTP --------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class HttpRecorder:
    def __init__(self, port: int = 0, *, delay: float = 0.0) -> None:
        self.requests: list[Request] = []
        self.script: deque[int] = deque()  # statuses for the next requests; 200 after that
        self.delay = delay  # seconds before answering
        self.received = threading.Event()  # set on the first request
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorder.received.set()
                time.sleep(recorder.delay)
                recorder.requests.append(Request(self.path, dict(self.headers.items()), body))
                status = recorder.script.popleft() if recorder.script else 200
                payload = b"refused: bad payload" if status >= 400 else b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> HttpRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Blackhole:
    """A port that accepts connections (in the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


# ---- Alertmanager ------------------------------------------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")

AM_CONFIG = """
route:
  receiver: fallback
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team="cco"']
      receiver: cco
    - matchers: ['team="soc"']
      receiver: soc
receivers:
  - name: fallback
  - name: cco
  - name: soc
"""


@dataclass
class Alertmanager:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert ALERTMANAGER is not None
        config = self.workdir / "alertmanager.yml"
        config.write_text(AM_CONFIG)
        (self.workdir / "data").mkdir(exist_ok=True)
        with (self.workdir / "alertmanager.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    ALERTMANAGER,
                    f"--config.file={config}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,  # the child keeps its own copy of the descriptor
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"alertmanager not ready after {timeout} s\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        path = self.workdir / "alertmanager.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def amtool_query(self, *matchers: str) -> list[dict[str, Any]]:
        assert AMTOOL is not None
        out = subprocess.run(
            [AMTOOL, "alert", "query", "-o", "json", f"--alertmanager.url={self.url}", *matchers],
            check=True,
            capture_output=True,
            timeout=15,
        )
        result: list[dict[str, Any]] = json.loads(out.stdout)
        return result


# ---- SMTP --------------------------------------------------------------------------------


class SmtpServer:
    """aiosmtpd on loopback: with a TLS context, STARTTLS and AUTH (one user) required;
    without, a plain relay that offers neither. `data_reply` answers the DATA command."""

    def __init__(
        self,
        tls_context: ssl.SSLContext | None,
        *,
        user: str = "vigia",
        password: str = "s3cret",
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Any] = []  # aiosmtpd Envelope objects
        self.data_reply = "250 OK"
        self.port = free_port()
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                if server.data_reply.startswith("250"):
                    server.messages.append(envelope)
                return server.data_reply

        def authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any):  # type: ignore[no-untyped-def]
            ok = isinstance(data, LoginPassword) and (
                data.login.decode(),
                data.password.decode(),
            ) == (user, password)
            return AuthResult(success=ok, handled=False)  # False: the server answers 535

        secure = tls_context is not None
        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls_context,
            require_starttls=secure,
            authenticator=authenticate if secure else None,
            auth_require_tls=secure,
        )

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


# ---- syslog ------------------------------------------------------------------------------


class SyslogUdp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = asyncio.Event()
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> SyslogUdp:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.messages.append(data)
        self.arrived.set()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class SyslogTcp:
    """Collects octet-counted frames (RFC 6587 3.4.1), checking each length prefix."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> SyslogTcp:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while length := await reader.readuntil(b" "):
                self.messages.append(await reader.readexactly(int(length[:-1])))
                self.arrived.set()
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b"", f"truncated frame: {exc.partial!r}"
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def wait_for(messages: list[bytes], count: int, timeout: float = 5.0) -> list[bytes]:
    async with asyncio.timeout(timeout):
        while len(messages) < count:
            await asyncio.sleep(0.01)
    return messages


def labels_of(alerts: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    return [a["labels"] for a in alerts]
