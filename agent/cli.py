"""The `vigia` command line: one sub-command per module under agent/commands/."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from agent.catalog.errors import CatalogError
from agent.commands import (
    alerts,
    catalog,
    check,
    cluster,
    db,
    demo,
    incidents,
    indicators,
    maintenance,
    probe,
    report,
    rules,
    run,
    status,
    token,
)
from agent.settings import load_settings
from checks.secrets import install_log_filter

COMMANDS = (
    run,
    probe,
    demo,
    check,
    status,
    incidents,
    indicators,
    maintenance,
    alerts,
    rules,
    report,
    catalog,
    db,
    cluster,
    token,
)
EXIT_USAGE = 2
EXIT_CODES = """exit codes:
  0  ok
  1  something is not ok (check: a probe failed; run: its address could not be bound)
  2  usage or configuration error (unknown option, invalid catalogue or settings, bad value)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigia",
        description="Service-availability agent: probes, incidents, restore times, QUAR.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    for subcommand in _subparsers(parser):
        # after the subcommand too (`vigia check --catalog F`); SUPPRESS keeps a value given
        # before the subcommand from being reset by the subcommand's own default
        add_global_options(subcommand, default=argparse.SUPPRESS)
        subcommand.epilog = EXIT_CODES
        subcommand.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--config", default=default, help="settings file (default: ./vigia.yaml if present)"
    )
    group.add_argument(
        "--catalog", default=default, help="catalogue file (default: catalog/services.yaml)"
    )
    group.add_argument(
        "--db", default=default, help="database URL or SQLite path (default: user data dir)"
    )
    verbose_default = False if default is None else default
    group.add_argument(
        "-v", "--verbose", action="store_true", default=verbose_default, help="debug logging"
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand parser under `parser`, nested ones included."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += [child, *_subparsers(child)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_filter()  # every ${NAME} value masked in every line, whatever logger wrote it
    for chatty in ("apscheduler", "httpcore", "uvicorn"):  # one line per probe is noise
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    # a PDF report logs each layout step (INFO) and each CSS property of the charts' SVG it
    # leaves to its SVG renderer (WARNING, hundreds of lines): shown with -v only
    for pdf_side in ("weasyprint", "fontTools"):
        logging.getLogger(pdf_side).setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    # httpx logs every request's full URL at INFO (webhook tokens, user:password@): never
    logging.getLogger("httpx").setLevel(logging.WARNING)
    flags = {"catalog": args.catalog, "db": args.db, "listen": getattr(args, "listen", None)}
    try:
        args.settings = load_settings(args.config, flags=flags)
        args.reread_settings = lambda: load_settings(args.config, flags=flags)
    except CatalogError as exc:
        print(f"vigia: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result: int = args.handler(args)
    except BrokenPipeError:  # `vigia status --json | head`: the reader had enough
        _silence_stdout()
        return 1
    return result


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing more."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
