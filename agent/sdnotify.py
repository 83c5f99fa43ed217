"""systemd's notification protocol (sd_notify(3)): READY, WATCHDOG and STOPPING.

Spoken over the datagram socket systemd names in $NOTIFY_SOCKET; without it (not started by
systemd with Type=notify) every call does nothing. The watchdog is pinged from the event loop
itself, so a loop that stalls (a blocking call, a deadlock) is restarted by systemd after
WatchdogSec, while the reasons an agent is unhealthy but alive (database away) stay on
/healthz and its alert rather than in restarts that would lose the writer's queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_seconds = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, state: str) -> None:
        if self.address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), self.address)
        except OSError as exc:  # systemd gone or the socket replaced: nothing to tell
            log.debug("sd_notify %r failed: %s", state, exc)

    async def keep_alive(self, healthy: Callable[[], bool] | None = None) -> None:
        """Ping the watchdog at half its period, as sd_watchdog_enabled(3) advises; while
        `healthy` says no, the pings stop, so systemd restarts a process that cannot work."""
        if self.watchdog_seconds is None:
            return
        while True:
            if healthy is None or healthy():
                self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_seconds / 2)


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):  # abstract namespace
        return b"\0" + value[1:].encode()
    return value


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):  # meant for another process of the unit
        return None
    return int(usec) / 1_000_000
