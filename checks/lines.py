"""What a tcp conversation hears, read as lines, as raw bytes or up to a substring.

One reader per connection, kept across a TLS upgrade (asyncio's StreamWriter.start_tls keeps
the StreamReader), so what the peer sent is read once and quoted in reasons from here.
"""

from __future__ import annotations

import asyncio

MAX_HEARD = 65_536  # what one step may hear before it gives up: enough for any greeting
_SNIPPET = 60


class TooMuch(Exception):
    """The peer sent MAX_HEARD bytes within one step without what the step waits for."""


class LineReader:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._pending = bytearray()  # read from the socket, not yet consumed
        self.heard = bytearray()  # what arrived during the current step (for its reason)
        self.total = 0  # bytes received on the connection

    def new_step(self) -> None:
        self.heard.clear()

    @property
    def pending(self) -> bytes:
        return bytes(self._pending)

    async def line(self) -> str | None:
        """The next line without its line break; at end of stream the unterminated rest, then
        None."""
        while (end := self._pending.find(b"\n")) < 0:
            if not await self._more():
                if not self._pending:
                    return None
                end = len(self._pending)
                break
        raw = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return raw.rstrip(b"\r").decode("utf-8", errors="replace")

    async def through(self, wanted: bytes) -> bool:
        """Consume up to and including `wanted`; False when the stream ends first."""
        while (found := self._pending.find(wanted)) < 0:
            if not await self._more():
                return False
        del self._pending[: found + len(wanted)]
        return True

    async def exactly(self, size: int) -> bytes | None:
        """`size` bytes, or None when the stream ends first."""
        while len(self._pending) < size:
            if not await self._more():
                return None
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    async def _more(self) -> bool:
        if len(self.heard) >= MAX_HEARD:
            raise TooMuch
        chunk = await self._reader.read(MAX_HEARD - len(self.heard))
        if not chunk:
            return False
        self._pending += chunk
        self.heard += chunk
        self.total += len(chunk)
        return True

    def heard_head(self) -> str:
        """The start of what this step heard, quoted (a banner reads best from its start)."""
        return quote(text(self.heard))

    def heard_tail(self) -> str:
        """The end of what this step heard, quoted (the last line is usually the answer)."""
        shown = text(self.heard).rstrip("\r\n")
        if len(shown) > _SNIPPET:
            shown = "…" + shown[-(_SNIPPET - 1) :]
        return repr(shown)


def text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def quote(value: str) -> str:
    return repr(value if len(value) <= _SNIPPET else value[: _SNIPPET - 1] + "…")
