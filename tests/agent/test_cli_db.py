"""`vigia db backup` while `vigia run` writes; a database newer than the code refuses to open."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main

CATALOG = """version: 1
defaults: {interval: 1s, timeout: 500ms}
services:
"""


def _catalog(tmp_path: Path, port: int, services: int = 20) -> Path:
    lines = [CATALOG]
    for n in range(services):
        lines.append(
            f"  - id: s{n}\n    name: S{n}\n    macro_service: formacao\n    tier: bronze\n"
            f"    owner: X\n    interval: 1s\n    checks:\n"
            f"      - tcp: {{host: 127.0.0.1, port: {port}}}\n"
        )
    path = tmp_path / "services.yaml"
    path.write_text("".join(lines))
    return path


def _rows(db: Path) -> int:
    """Probe results stored so far; 0 while the agent has not created its tables yet."""
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM probe_results").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return 0
    finally:
        conn.close()


@pytest.mark.slow
def test_backup_while_the_agent_writes_is_whole_and_consistent(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        listen = f"127.0.0.1:{free.getsockname()[1]}"
    with socket.socket() as target:
        target.bind(("127.0.0.1", 0))
        target.listen(512)
        catalog = _catalog(tmp_path, target.getsockname()[1])
        argv = [sys.executable, "-m", "agent.cli", "--catalog", str(catalog), "--db", str(db)]
        agent = subprocess.Popen([*argv, "run", "--listen", listen], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while (not db.exists() or _rows(db) < 40) and time.monotonic() < deadline:
                assert agent.poll() is None, "the agent stopped"
                time.sleep(0.3)
            copies = []
            for n in range(3):  # the agent commits every fraction of a second meanwhile
                copy = tmp_path / f"backup-{n}.db"
                done = subprocess.run([*argv, "db", "backup", str(copy)], capture_output=True)
                assert done.returncode == 0, done.stderr
                copies.append(copy)
                time.sleep(0.7)
            counts = [_rows(c) for c in copies]
            for copy in copies:
                with sqlite3.connect(copy) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert counts[0] >= 40 and counts == sorted(counts) and counts[-1] > counts[0]
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)


def test_backup_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "v.db"
    assert main(["--db", str(db), "incidents"]) == 0
    existing = tmp_path / "old.db"
    existing.write_text("keep me")
    assert main(["--db", str(db), "db", "backup", str(existing)]) == 2
    assert existing.read_text() == "keep me"
    assert "never overwrites" in capsys.readouterr().err


def test_backup_of_postgres_points_to_pg_dump(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert main(["--db", url, "db", "backup", os.devnull + ".x"]) == 2
    assert "pg_dump" in capsys.readouterr().err


def test_a_database_newer_than_the_code_refuses_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    assert main(["--db", str(db), "incidents"]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', '2030-01-01')")
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--db", str(db), "status"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "schema version 999 is newer" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Any:
    """A read-only tmpfs (a real EROFS, which even root cannot write)."""
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr!r}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_a_read_only_filesystem_is_a_clear_error_not_a_traceback(
    tmp_path: Path, read_only_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, 1, services=1)
    code = main(["--catalog", str(catalog), "--db", str(read_only_dir / "v.db"), "status"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "sqlalche.me" not in err
    assert "cannot open the database" in err and "not writable" in err


def test_an_unreachable_database_names_it_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, 1, services=1)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://vigia:s3cr3t-pw@127.0.0.1:{port}/vigia"
    code = main(["--catalog", str(catalog), "--db", url, "status"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"127.0.0.1:{port}" in err and "s3cr3t-pw" not in err
