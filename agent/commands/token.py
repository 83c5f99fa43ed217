"""`vigia token create --role operator [--name NAME] [--append FILE]`: a new API/console token.

The token is printed once; only its SHA-256 hash goes into the settings (`tokens:`).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agent.access.tokens import hash_token, new_token
from agent.commands.common import CommandError, guarded
from agent.settings import Settings, SettingsError, load_settings

ROLES = ("viewer", "operator", "admin", "probe")
_TOKENS_BLOCK = re.compile(r"^tokens:[ \t]*(\[\])?[ \t]*(#.*)?$", re.MULTILINE)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("token", help="API and console bearer tokens")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token; prints it once, stores its hash")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", help="who or what uses it (audit trail); default: the role")
    create.add_argument("--append", metavar="FILE", help="add the hash to this settings file")
    create.set_defaults(handler=guarded(handle_create))


def handle_create(args: argparse.Namespace) -> int:
    name = args.name or args.role
    if not name.strip() or len(name) > 100:
        raise CommandError(f"--name {name!r} must be 1 to 100 characters")
    token = new_token()
    if args.role == "probe":
        return _print_location(name, token, args.append)
    entry = f"{{name: {_quote(name)}, role: {args.role}, hash: '{hash_token(token)}'}}"
    print(f"token for {name} ({args.role}), shown only this once:\n\n  {token}\n")
    if args.append:
        append_entry(Path(args.append), name, entry)
        print(f"its hash was added to {args.append}; restart the agent to use it")
    else:
        print("paste into vigia.yaml (then restart the agent):\n")
        print(f"tokens:\n  - {entry}")
    return 0


def _print_location(name: str, token: str, append: str | None) -> int:
    """A probe token is its location's: print the `locations:` entry to configure."""
    if append:
        raise CommandError("--append is for tokens: add the location entry to locations: by hand")
    print(f"token for the probe worker of location {name}, shown only this once:\n\n  {token}\n")
    print("paste into vigia.yaml (then restart the core):\n")
    print(f"locations:\n  - {{name: {_quote(name)}, hash: '{hash_token(token)}'}}")
    return 0


def append_entry(path: Path, name: str, entry: str) -> None:
    """Add `entry` to the file's `tokens:` list (made if absent); validated, else untouched."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if path.exists():
        taken = {t.name for t in _load(path).tokens}
        if name in taken:
            raise CommandError(f"{path} already has a token named {name!r}")
    path.write_text(_with_entry(before, entry, path), encoding="utf-8")
    try:
        _load(path)
    except CommandError:
        path.write_text(before, encoding="utf-8")
        raise


def _with_entry(text: str, entry: str, path: Path) -> str:
    found = list(_TOKENS_BLOCK.finditer(text))
    if not found:
        separator = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{separator}tokens:\n  - {entry}\n"
    if len(found) > 1:
        raise CommandError(f"{path} has more than one `tokens:` key")
    match = found[0]
    return f"{text[: match.start()]}tokens:\n  - {entry}{text[match.end() :]}"


def _load(path: Path) -> Settings:
    try:
        return load_settings(str(path), environ={})
    except SettingsError as exc:
        raise CommandError(
            f"{path} is not valid settings (nothing written); paste the entry by hand:\n{exc}"
        ) from None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
