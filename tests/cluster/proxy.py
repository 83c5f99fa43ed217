"""A TCP proxy on loopback between a node and PostgreSQL, whose link a test can break.

Two faults: `cut` resets every connection and refuses new ones (a peer that is gone: both ends
learn at once); `freeze` stops forwarding and keeps every socket open (a partition: nothing
arrives, nobody is told, the server keeps the session and what it locked). `freeze` may wait
for the moment the server answers a statement inside a transaction (`mid_transaction`), so the
server side is left idle in a transaction, as a link that fails mid-batch leaves it.
`restore` ends either: new connections go through again and a frozen link delivers what it
held, late.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends a RST
# The server's ReadyForQuery with status "in a transaction"; in the answer to BEGIN itself
# nothing is locked yet, so that answer does not count.
_READY_IN_TRANSACTION = b"Z\x00\x00\x00\x05T"
_BEGIN_DONE = b"BEGIN\x00"


class CuttableProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._upstream_ports: set[int] = set()
        self._cut = False
        self._closed = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._armed = False  # freeze at the next answer inside a transaction
        self.frozen_mid_transaction = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Every connection reset, new ones refused at once, until `restore`."""
        with self._lock:
            self._cut = True
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
                # a close alone does not end a socket another thread is blocked in recv on:
                # the node would wait forever on a link that was meant to be gone
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def freeze(self, mid_transaction: bool = False) -> None:
        """Forward nothing more, either way, on old or new connections, until `restore`; with
        `mid_transaction`, from the server's next answer inside a transaction on."""
        with self._lock:
            self.frozen_mid_transaction.clear()
            if mid_transaction:
                self._armed = True
            else:
                self._flowing.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self._armed = False
            self._flowing.set()

    def upstream_ports(self) -> set[int]:
        """The local ports of the proxy's connections to the server (pg_stat_activity's
        client_port of the proxied node's sessions)."""
        with self._lock:
            return set(self._upstream_ports)

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._flowing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            refused = self._cut
        if refused:
            client.close()
            return
        self._flowing.wait()  # a frozen link: the connection hangs, as over a partition
        try:
            upstream = socket.create_connection(self._target, timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._open += [client, upstream]
            self._upstream_ports.add(upstream.getsockname()[1])
        threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
        self._pump(upstream, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if from_server and self._armed and self._in_transaction(chunk):
                    self._freeze_now()
                self._flowing.wait()
                if self._closed:
                    break
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                # shutdown first: a bare close leaves the socket open while the other
                # direction's thread is blocked in recv on it, so the peer never sees the end
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    @staticmethod
    def _in_transaction(chunk: bytes) -> bool:
        return _READY_IN_TRANSACTION in chunk and _BEGIN_DONE not in chunk

    def _freeze_now(self) -> None:
        with self._lock:
            if self._armed:
                self._armed = False
                self._flowing.clear()
                self.frozen_mid_transaction.set()
