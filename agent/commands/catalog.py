"""`vigia catalog validate [PATH] [--json]`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load
from agent.catalog.summary import figures, summary
from agent.commands.common import print_json
from agent.progress import Progress

EXIT_INVALID = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("catalog", help="work with the service catalogue")
    actions = parser.add_subparsers(dest="action", required=True)
    validate = actions.add_parser("validate", help="validate a catalogue file")
    validate.add_argument("path", nargs="?", help="catalogue file (default: settings)")
    validate.add_argument("--json", action="store_true", help="the summary or every error")
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    path = args.path or args.settings.catalog
    as_json = getattr(args, "json", False)
    progress = Progress(f"catalogue {path}", 1)
    progress.step(f"reading and checking {_size(path)}")
    try:
        catalog = load(path, locations=args.settings.location_names)
    except CatalogError as exc:
        _print_problems(str(path), exc, as_json)
        return EXIT_INVALID
    progress.finish(f"{len(catalog.services)} services")
    if as_json:
        print_json(figures(catalog, str(path)))
    else:
        print(summary(catalog, str(path)))
    return 0


def _print_problems(path: str, exc: CatalogError, as_json: bool) -> None:
    if as_json:  # the errors are the output asked for: on stdout, exit code 2 still says it
        print_json({"file": path, "valid": False, "errors": [asdict(p) for p in exc.problems]})
        return
    count = len(exc.problems)
    print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


def _size(path: str | Path) -> str:
    try:
        size = Path(path).stat().st_size
    except OSError:
        return "the file"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
