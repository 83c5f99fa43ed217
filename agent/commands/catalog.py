"""`vigia catalog validate [PATH]`."""

from __future__ import annotations

import argparse
import sys

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load
from agent.catalog.summary import summary

EXIT_INVALID = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("catalog", help="work with the service catalogue")
    actions = parser.add_subparsers(dest="action", required=True)
    validate = actions.add_parser("validate", help="validate a catalogue file")
    validate.add_argument("path", nargs="?", help="catalogue file (default: settings)")
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    path = args.path or args.settings.catalog
    try:
        catalog = load(path, locations=args.settings.location_names)
    except CatalogError as exc:
        count = len(exc.problems)
        print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    print(summary(catalog, str(path)))
    return 0
