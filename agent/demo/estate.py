"""A simulated estate on loopback: one small HTTP server answering for every demo service.

Each service answers `GET /<service id>/health`. A script decides, second by second, which
services are broken and how (503, hang, slow answer, wrong body); a service whose dependency
is broken fails too, as a real one would, so root causes show up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

HEALTHY_BODY = '{"status": "UP", "page": "Segurança Social: serviço disponível"}'


@dataclass(frozen=True)
class Fault:
    service: str
    start: float  # seconds into the script cycle
    end: float
    mode: str  # "503" | "hang" | "slow" | "wrong-body" | "flap"
    note: str = ""

    def active(self, t: float) -> bool:
        if not self.start <= t < self.end:
            return False
        return self.mode != "flap" or int((t - self.start) // 8) % 2 == 0


class Estate:
    def __init__(
        self,
        faults: Sequence[Fault],
        depends_on: Mapping[str, Sequence[str]],
        cycle: float,
        clock: Callable[[], float],
        slow_seconds: float = 1.5,
    ) -> None:
        self.faults = list(faults)
        self.depends_on = depends_on
        self.cycle = cycle
        self.clock = clock
        self.slow_seconds = slow_seconds
        self.started = clock()
        self.port = 0
        self._server: asyncio.Server | None = None

    def elapsed(self) -> float:
        return (self.clock() - self.started) % self.cycle

    def mode(self, service: str, seen: frozenset[str] = frozenset()) -> str:
        """How `service` behaves now: its own fault, or "503" if a dependency is broken."""
        t = self.elapsed()
        for fault in self.faults:
            if fault.service == service and fault.active(t):
                return "503" if fault.mode == "flap" else fault.mode
        for parent in self.depends_on.get(service, ()):
            if parent not in seen and self.mode(parent, seen | {service}) in ("503", "hang"):
                return "503"
        return "ok"

    async def start(self, host: str = "127.0.0.1") -> None:
        self._server = await asyncio.start_server(self._handle, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                path = request.split(b" ", 2)[1].decode("latin-1")
                service = path.strip("/").split("/", 1)[0]
                await self._answer(writer, self.mode(service))
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            IndexError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, mode: str) -> None:
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        status, body = {
            "503": ("503 Service Unavailable", "indisponível"),
            "wrong-body": ("200 OK", "<html>Página de manutenção</html>"),
        }.get(mode, ("200 OK", HEALTHY_BODY))
        data = body.encode()
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        writer.write(head + data)
        await writer.drain()
