"""A private PostgreSQL instance a test can stop and start (initdb/pg_ctl, run as `postgres`
since initdb refuses root), on a free loopback port, removed afterwards."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None or shutil.which("runuser") is None:
            raise RuntimeError("initdb/pg_ctl or runuser not installed")
        self._bin = bin_dir
        self._user = pwd.getpwnam("postgres")
        self.folder = Path(tempfile.mkdtemp(prefix="vigia-pg-", dir="/tmp"))
        os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self.data = self.folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._as_postgres(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", str(self._bin / "pg_ctl"), "-D",
                 str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True, check=False,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_postgres(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self._bin / tool), *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
