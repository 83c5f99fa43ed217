"""The CLI's conventions (#16 item 2): exit codes, `--json` on every table, progress on a tty.

Global options on either side of every subcommand: tests/agent/test_cli_globals.py.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.cli import _subparsers, build_parser, main
from agent.commands.incidents import ANNOTATION_FIELDS
from agent.records import Incident, IncidentSaved
from agent.store.sql import SqlStore
from agent.store.url import database_url

ROOT = Path(__file__).parents[2]
POSTGRES = os.environ.get("VIGIA_TEST_POSTGRES_URL")
MONTH = datetime.now(UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class Estate:
    catalog: Path
    db: Path

    def globals(self) -> list[str]:
        return ["--catalog", str(self.catalog), "--db", str(self.db)]


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts: the one service's TCP check is ok."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def _write_catalog(path: Path, port: int) -> Path:
    path.write_text(
        "version: 1\nservices:\n  - id: itself\n    name: Itself\n    macro_service: formacao\n"
        "    tier: bronze\n    owner: CCO\n    checks:\n"
        f"      - tcp: {{host: 127.0.0.1, port: {port}}}\n"
    )
    return path


@pytest.fixture
def estate(tmp_path: Path, listener: int) -> Estate:
    """A catalogue of one service and a database with one closed incident of it."""
    db = tmp_path / "vigia.db"
    store = SqlStore.open(database_url(str(db)))
    started = datetime.now(UTC).replace(day=1, hour=1, minute=0, second=0, microsecond=0)
    incident = Incident(
        id=1, service="itself", tier="bronze", pcn=False, started_at=started,
        confirmed_at=started + timedelta(minutes=1), ended_at=started + timedelta(minutes=9),
        restore_seconds=540.0, cause="itself/tcp: refused",
    )  # fmt: skip
    store.apply([IncidentSaved(incident)])
    store.close()
    made = Estate(_write_catalog(tmp_path / "services.yaml", listener), db)
    window = ["--start", "2099-01-01T02:00", "--end", "2099-01-01T03:00", "--reason", "upgrade"]
    assert main(["maintenance", "add", "--service", "itself", *window, *made.globals()]) == 0
    return made


# ---- exit codes --------------------------------------------------------------------------------


def test_help_and_every_subcommand_help_document_the_exit_codes() -> None:
    parser = build_parser()
    for text in [parser.format_help()] + [p.format_help() for p in _subparsers(parser)]:
        assert "exit codes:" in text
        assert "  0  ok" in text and "  1  something is not ok" in text
        assert "  2  usage or configuration error" in text


def test_exit_0_when_ok_1_when_not_ok(estate: Estate, tmp_path: Path) -> None:
    assert main(["check", *estate.globals()]) == 0
    closed = _write_catalog(tmp_path / "closed.yaml", _closed_port())
    assert main(["check", "--catalog", str(closed), "--db", str(estate.db)]) == 1


def test_exit_2_on_usage_and_configuration_errors(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["status", "--no-such-option"])
    assert usage.value.code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nservices:\n  - id: x\n    tier: cobre\n")
    assert main(["status", "--catalog", str(broken), "--db", str(estate.db)]) == 2
    assert "broken.yaml" in capsys.readouterr().err
    assert main(["indicators", "--period", "2026-13", *estate.globals()]) == 2
    settings = tmp_path / "vigia.yaml"
    settings.write_text("max_in_flight: many\n")
    assert main(["status", "--config", str(settings), *estate.globals()]) == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connections are refused


# ---- --json on every command that prints a table -----------------------------------------------

# The arguments each table command needs besides --json and the global options. A new command
# with --json must be added here (test_every_json_command_is_exercised).
JSON_ARGUMENTS: dict[str, list[str]] = {
    "check": ["itself"],
    "status": [],
    "incidents": [],
    "incidents annotate": ["1", "--field", ANNOTATION_FIELDS[0], "--text", "t", "--author", "a"],
    "indicators": ["--period", MONTH],
    "maintenance list": ["--all"],
    "alerts": [],
    "catalog validate": [],
    "cluster status": [],
}
NOTHING_TO_LIST = {"alerts"}  # no alert has fired in the estate: an empty list


def _json_commands() -> list[str]:
    return [
        p.prog.removeprefix("vigia ")
        for p in _subparsers(build_parser())
        if "--json" in p._option_string_actions
    ]


def test_every_json_command_is_exercised() -> None:
    assert sorted(_json_commands()) == sorted(JSON_ARGUMENTS)


@pytest.mark.parametrize("command", _json_commands())
def test_json_output_parses(
    command: str, estate: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    options = estate.globals()
    if command == "cluster status":  # several nodes exist on PostgreSQL only
        if not POSTGRES:
            pytest.skip("cluster status needs PostgreSQL: set VIGIA_TEST_POSTGRES_URL")
        options = ["--catalog", str(estate.catalog), "--db", POSTGRES]
    code = main([*command.split(), *JSON_ARGUMENTS[command], "--json", *options])
    out = capsys.readouterr().out
    assert code == 0, out
    parsed = json.loads(out)
    assert isinstance(parsed, list | dict)
    assert parsed or command in NOTHING_TO_LIST, f"{command} --json printed nothing: {out!r}"


def test_catalog_validate_json_lists_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nservices:\n  - id: x\n    tier: cobre\n")
    assert main(["catalog", "validate", str(broken), "--json"]) == 2
    found = json.loads(capsys.readouterr().out)
    assert found["valid"] is False and found["file"] == str(broken)
    assert any(e["path"].endswith("tier") and e["line"] == 4 for e in found["errors"])


# ---- progress: on a terminal only ---------------------------------------------------------------


def _vigia(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *args]


def _stderr_on_a_tty(argv: list[str]) -> tuple[int, str, str]:
    """Run with stderr on a real pseudo-terminal; (exit code, stdout, what the tty showed)."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out, _ = child.communicate(timeout=60)
    return child.returncode, out.decode(), shown.decode()


@pytest.mark.parametrize(
    "command",
    [
        ["report", "monthly", "--month", MONTH, "--format", "html,json"],
        ["catalog", "validate"],
    ],
    ids=" ".join,
)
def test_progress_shows_on_a_terminal_and_not_when_piped(
    command: list[str], estate: Estate, tmp_path: Path
) -> None:
    argv = _vigia(*command, *estate.globals())
    if command[0] == "report":
        argv += ["--out", str(tmp_path / "out")]
    code, out, shown = _stderr_on_a_tty(argv)
    assert code == 0, shown
    assert "vigia: " in shown and "[1/" in shown, shown
    assert " s\r\n" in shown  # the closing line with the time taken
    piped = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert piped.stdout == out  # the output itself is the same either way


def test_a_piped_pdf_report_writes_nothing_on_stderr(estate: Estate, tmp_path: Path) -> None:
    """WeasyPrint logs every layout step at INFO: the CLI keeps it below WARNING."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the pango libraries are missing
        pytest.skip(f"PDF extra not usable here (pip install 'vigia[pdf]'; CI has it): {exc}")
    argv = _vigia("report", "monthly", "--month", MONTH, "--format", "pdf", *estate.globals())
    piped = subprocess.run(
        [*argv, "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr[-2000:]
    assert piped.stdout.strip().endswith(".pdf")


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    """`vigia status --json | head`: more output than a pipe holds, and the reader leaves."""
    catalog = tmp_path / "many.yaml"
    catalog.write_text(
        "version: 1\nservices:\n"
        + "".join(
            f"  - {{id: s{n}, name: S{n}, macro_service: formacao, tier: bronze, "
            f"checks: [{{tcp: {{host: 127.0.0.1, port: 9}}}}]}}\n"
            for n in range(2000)
        )
    )
    argv = _vigia("status", "--json", "--catalog", str(catalog), "--db", str(tmp_path / "v.db"))
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(1) == b"["
    child.stdout.close()
    errors = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=60) == 1, errors
    assert errors == ""
