"""`vigia token create --role probe --name porto`: a location entry whose token is a probe's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.api.auth import Role, authenticate, probe_entries
from agent.settings import load_settings


def _create(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agent.cli", "token", "create", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_a_probe_token_is_printed_once_with_its_location_entry(tmp_path: Path) -> None:
    done = _create(tmp_path, "--role", "probe", "--name", "porto")
    assert done.returncode == 0, done.stderr
    token = next(w for w in done.stdout.split() if w.startswith("vigia_"))
    assert done.stdout.count(token) == 1
    snippet = done.stdout[done.stdout.index("locations:") :]
    assert token not in snippet
    path = tmp_path / "vigia.yaml"
    path.write_text(snippet, encoding="utf-8")
    settings = load_settings(str(path), environ={})
    assert settings.location_names == ("porto", "local") and settings.tokens == ()
    principal = authenticate(token, probe_entries(settings.locations))
    assert principal is not None and principal.name == "porto"
    assert principal.role is Role.PROBE and not principal.can(Role.BOARD)


def test_append_is_refused_for_a_probe_token(tmp_path: Path) -> None:
    path = tmp_path / "vigia.yaml"
    path.write_text("listen: 127.0.0.1:9400\n", encoding="utf-8")
    done = _create(tmp_path, "--role", "probe", "--name", "porto", "--append", str(path))
    assert done.returncode == 2 and "locations:" in done.stderr
    assert path.read_text(encoding="utf-8") == "listen: 127.0.0.1:9400\n"
