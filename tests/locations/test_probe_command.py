"""`vigia probe`'s options: from flags, from the settings' `worker:` section, from the
environment for the token; a missing or bad option is a clear error with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import build_parser
from agent.commands.common import CommandError
from agent.commands.probe import worker_entry
from agent.settings import WorkerEntry, load_settings


def _entry(
    argv: list[str],
    settings_text: str = "",
    environ: dict[str, str] | None = None,
    tmp: Path | None = None,
) -> WorkerEntry:
    config = None
    if settings_text and tmp is not None:
        config = tmp / "vigia.yaml"
        config.write_text(settings_text, encoding="utf-8")
    args = build_parser().parse_args(["probe", *argv])
    settings = load_settings(str(config) if config else None, environ={})
    return worker_entry(args, settings, environ or {})


def test_flags_give_every_option() -> None:
    entry = _entry(["--location", "porto", "--core", "https://core:9330", "--token", "t"])
    assert (entry.location, entry.core, entry.token) == ("porto", "https://core:9330", "t")


def test_the_settings_section_is_used_and_a_flag_wins(tmp_path: Path) -> None:
    text = "worker: {location: porto, core: 'https://core:9330', token: t, spool_hours: 2}\n"
    entry = _entry(["--location", "viseu"], text, tmp=tmp_path)
    assert (entry.location, entry.core, entry.spool_hours) == ("viseu", "https://core:9330", 2.0)


def test_the_token_may_come_from_the_environment() -> None:
    entry = _entry(["--location", "porto", "--core", "https://c:1"], environ={
        "VIGIA_PROBE_TOKEN": "from-env"})  # fmt: skip
    assert entry.token == "from-env"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--location", "porto"], "--core, --token"),
        (["--location", "local", "--core", "https://c:1", "--token", "t"], "core's own location"),
        (["--location", "Porto!", "--core", "https://c:1", "--token", "t"], "location"),
        (["--location", "porto", "--core", "ftp://c", "--token", "t"], "core"),
    ],
)
def test_a_missing_or_bad_option_is_named(argv: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _entry(argv)


def test_the_command_exits_2_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "probe", "--location", "porto"],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "--core" in done.stderr and "Traceback" not in done.stderr


def test_vigia_listen_gives_the_health_port_a_flag_still_wins() -> None:
    base = ["--location", "porto", "--core", "https://c:1", "--token", "t"]
    assert _entry(base, environ={"VIGIA_LISTEN": "127.0.0.1:9331"}).listen == "127.0.0.1:9331"
    flagged = [*base, "--listen", "127.0.0.1:9444"]
    assert _entry(flagged, environ={"VIGIA_LISTEN": "127.0.0.1:9331"}).listen == "127.0.0.1:9444"
