"""Loopback HTTP services whose behaviour the test scripts: ok, 503, refuse, hang, slow, body."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_BODY = b"Seguranca Social: servico disponivel"


class _Handler(BaseHTTPRequestHandler):
    server: _ScriptedServer

    def do_GET(self) -> None:
        service = self.path.strip("/").split("/", 1)[0]
        mode = self.server.modes.get(service, "ok")
        if mode == "hang":
            time.sleep(30)
            return
        if mode == "slow":
            time.sleep(self.server.slow_seconds)
        status, body = {"503": (503, b"unavailable"), "body": (200, b"maintenance page")}.get(
            mode, (200, GOOD_BODY)
        )
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the probe gave up (its timeout) before the answer: expected in slow modes

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, port: int, modes: dict[str, str], slow_seconds: float, host: str = "127.0.0.1"
    ) -> None:
        super().__init__((host, port), _Handler)
        self.modes = modes
        self.slow_seconds = slow_seconds


class ScriptedEstate:
    """One shared server for most services, and one own port per service that may refuse."""

    def __init__(
        self, refusing: list[str], slow_seconds: float = 3.0, host: str = "127.0.0.1"
    ) -> None:
        self.host = host  # 0.0.0.0 where network namespaces reach it through their veth
        self.modes: dict[str, str] = {}
        self.slow_seconds = slow_seconds
        self.shared = self._serve(0)
        self.port = self.shared.server_address[1]
        self.own: dict[str, _ScriptedServer | None] = {s: self._serve(0) for s in refusing}
        self.own_ports = {s: srv.server_address[1] for s, srv in self.own.items() if srv}

    def _serve(self, port: int) -> _ScriptedServer:
        server = _ScriptedServer(port, self.modes, self.slow_seconds, self.host)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def url(self, service: str) -> str:
        port = self.own_ports.get(service, self.port)
        return f"http://127.0.0.1:{port}/{service}/health"

    def set(self, service: str, mode: str) -> None:
        """mode: ok | 503 | hang | slow | body | refuse"""
        if service in self.own:
            self._set_listening(service, listening=mode != "refuse")
        self.modes[service] = mode

    def _set_listening(self, service: str, listening: bool) -> None:
        server = self.own[service]
        if listening and server is None:
            self.own[service] = self._serve(self.own_ports[service])
        elif not listening and server is not None:
            server.shutdown()
            server.server_close()
            self.own[service] = None

    def close(self) -> None:
        for server in [self.shared, *self.own.values()]:
            if server is not None:
                server.shutdown()
                server.server_close()
