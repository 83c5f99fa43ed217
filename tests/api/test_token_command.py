"""`vigia token create`: the token is printed once; only its hash reaches the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.api.auth import authenticate
from agent.settings import load_settings


def _create(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agent.cli", "token", "create", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)


def _token(stdout: str) -> str:
    return next(w for w in stdout.split() if w.startswith("vigia_"))


def test_create_prints_the_token_once_and_a_snippet_with_its_hash(tmp_path: Path) -> None:
    done = _create(tmp_path, "--role", "operator", "--name", "cco-noite")
    assert done.returncode == 0, done.stderr
    token = _token(done.stdout)
    assert done.stdout.count(token) == 1
    snippet = done.stdout[done.stdout.index("tokens:") :]
    settings_file = tmp_path / "vigia.yaml"
    settings_file.write_text(snippet, encoding="utf-8")
    settings = load_settings(str(settings_file), environ={})
    principal = authenticate(token, settings.tokens)
    assert principal is not None and principal.name == "cco-noite"
    assert principal.role.label == "operator"
    assert token not in snippet


def test_append_adds_to_the_settings_file_and_keeps_the_rest(tmp_path: Path) -> None:
    settings_file = tmp_path / "vigia.yaml"
    settings_file.write_text("# CCO agent\nlisten: 127.0.0.1:9400\n", encoding="utf-8")
    first = _create(tmp_path, "--role", "viewer", "--name", "wall", "--append", str(settings_file))
    second = _create(tmp_path, "--role", "admin", "--append", str(settings_file))
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    text = settings_file.read_text(encoding="utf-8")
    assert text.startswith("# CCO agent\nlisten: 127.0.0.1:9400\n")
    assert _token(first.stdout) not in text and _token(second.stdout) not in text
    settings = load_settings(str(settings_file), environ={})
    assert [(t.name, t.role) for t in settings.tokens] == [("admin", "admin"), ("wall", "viewer")]
    assert authenticate(_token(first.stdout), settings.tokens) is not None


def test_append_refuses_a_duplicate_name_and_leaves_the_file_alone(tmp_path: Path) -> None:
    settings_file = tmp_path / "vigia.yaml"
    assert (
        _create(
            tmp_path, "--role", "viewer", "--name", "wall", "--append", str(settings_file)
        ).returncode
        == 0
    )
    before = settings_file.read_text(encoding="utf-8")
    again = _create(tmp_path, "--role", "admin", "--name", "wall", "--append", str(settings_file))
    assert again.returncode == 2 and "already has a token named 'wall'" in again.stderr
    assert settings_file.read_text(encoding="utf-8") == before


def test_append_refuses_a_file_it_cannot_extend_safely(tmp_path: Path) -> None:
    settings_file = tmp_path / "vigia.yaml"
    settings_file.write_text(
        "tokens:\n- {name: a, role: viewer, hash: 'sha256:" + "0" * 64 + "'}\n"
    )
    before = settings_file.read_text(encoding="utf-8")
    done = _create(tmp_path, "--role", "admin", "--append", str(settings_file))
    assert done.returncode == 2 and "paste the entry by hand" in done.stderr
    assert settings_file.read_text(encoding="utf-8") == before
