"""SQLite is single-node: a second `vigia run` on the same file exits 2 and says why."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cluster.errors import SecondNodeError
from agent.cluster.single_node import SingleNodeLock, sqlite_path


def _free_listen() -> str:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{free.getsockname()[1]}"


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(
        "version: 1\ndefaults: {interval: 1s, timeout: 500ms}\nservices:\n"
        "  - id: s\n    name: S\n    macro_service: formacao\n    tier: bronze\n    owner: X\n"
        "    checks:\n      - tcp: {host: 127.0.0.1, port: 9}\n"
    )
    return path


@pytest.mark.slow
def test_a_second_run_on_the_same_sqlite_file_exits_2_naming_postgresql(tmp_path: Path) -> None:
    db = tmp_path / "vigia.db"
    argv = [
        sys.executable,
        "-m",
        "agent.cli",
        "--catalog",
        str(_catalog(tmp_path)),
        "--db",
        str(db),
    ]
    first = subprocess.Popen([*argv, "run", "--listen", _free_listen()], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not db.exists() and time.monotonic() < deadline:
            assert first.poll() is None, "the first node stopped"
            time.sleep(0.2)
        second = subprocess.run(
            [*argv, "run", "--listen", _free_listen()], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert "PostgreSQL" in second.stderr and f"pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first node is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)


def test_the_lock_is_free_again_once_its_holder_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path;"
         "from agent.cluster.single_node import SingleNodeLock;"
         f"SingleNodeLock(Path({str(db)!r})).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(SecondNodeError, match="PostgreSQL"):
            SingleNodeLock(db).acquire()
    finally:
        holder.kill()  # kill -9: the kernel drops the lock, nothing stale is left
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with SingleNodeLock(db):
        pass


def test_only_sqlite_files_are_locked() -> None:
    assert sqlite_path("sqlite:////var/lib/vigia/vigia.db") == Path("/var/lib/vigia/vigia.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None
