"""Global options work on either side of the subcommand, and every subcommand lists them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agent.cli import _subparsers, build_parser, main


def _leaf_commands(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    paths: list[list[str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                below = _leaf_commands(child, [*prefix, name])
                paths += below or [[*prefix, name]]
    return paths


LEAVES = _leaf_commands(build_parser(), [])


def _required_arguments(path: list[str]) -> list[str]:
    """The smallest argument list the leaf command accepts (values are placeholders)."""
    leaf = next(p for p in _subparsers(build_parser()) if p.prog == " ".join(["vigia", *path]))
    argv: list[str] = []
    for action in leaf._actions:
        value = str(next(iter(action.choices))) if action.choices else "1"
        if not action.option_strings and action.nargs not in ("*", "?"):
            argv.append(value)
        elif action.required and action.option_strings:
            argv += [action.option_strings[0], value]
    return argv


def test_every_command_is_found() -> None:
    assert ["run"] in LEAVES and ["maintenance", "add"] in LEAVES and len(LEAVES) > 15


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_global_options_are_accepted_after_the_subcommand(path: list[str]) -> None:
    parser, needed = build_parser(), _required_arguments(path)
    after = parser.parse_args(
        [*path, *needed, "--db", "after.db", "--catalog", "c.yaml", "--config", "s.yaml", "-v"]
    )
    assert (after.db, after.catalog, after.config, after.verbose) == (
        "after.db", "c.yaml", "s.yaml", True
    )  # fmt: skip
    before = parser.parse_args(["--config", "b.yaml", "--db", "before.db", "-v", *path, *needed])
    assert (before.db, before.catalog, before.config, before.verbose) == (
        "before.db", None, "b.yaml", True
    )  # fmt: skip


def test_every_subcommand_help_lists_the_global_options() -> None:
    for subcommand in _subparsers(build_parser()):
        text = subcommand.format_help()
        assert "--catalog" in text and "--db" in text and "--config" in text, subcommand.prog


def test_catalog_given_after_the_subcommand_is_the_one_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "one.yaml"
    catalog.write_text(
        "version: 1\nservices:\n  - id: only\n    name: Only\n    macro_service: formacao\n"
        "    tier: bronze\n    owner: X\n    checks:\n      - tcp: {host: 127.0.0.1, port: 9}\n"
    )
    assert main(["check", "--catalog", str(catalog), "absent"]) == 2
    assert "not in the catalogue: absent" in capsys.readouterr().err
