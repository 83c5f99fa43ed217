"""`vigia rules export` (Prometheus rule file) and `vigia rules check [PATH]`."""

from __future__ import annotations

import argparse
import sys

from agent.commands.common import guarded, open_catalog
from alerting.errors import RulesError
from alerting.promexport import export
from alerting.rule_file import load_rules


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("rules", help="alert rules: check them, export to Prometheus")
    actions = parser.add_subparsers(dest="action", required=True)
    exporting = actions.add_parser("export", help="print Prometheus recording+alerting rules")
    exporting.add_argument("--rules", help="rule file (default: the shipped alerting/rules.yaml)")
    exporting.set_defaults(handler=guarded(handle_export))
    checking = actions.add_parser("check", help="validate a rule file")
    checking.add_argument("path", nargs="?")
    checking.set_defaults(handler=guarded(handle_check))


def handle_export(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(f"vigia: invalid alert rules:\n{exc}", file=sys.stderr)
        return 2
    sys.stdout.write(export(rules, open_catalog(args.settings)))
    return 0


def handle_check(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.path)
    except RulesError as exc:
        print(f"{args.path or 'rules'}: invalid\n{exc}", file=sys.stderr)
        return 2
    print(f"{args.path or 'default rules'}: valid, {len(rules)} rules")
    return 0
