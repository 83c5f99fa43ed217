"""YAML to plain data, keeping the line of every key and item, and `${NAME}` secrets resolved."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.catalog.errors import Problem
from checks.secrets import SECRETS

Path_ = tuple[str | int, ...]
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Source:
    """Parsed YAML plus where each value came from."""

    file: str
    data: Any = None
    lines: dict[Path_, int] = field(default_factory=dict)
    secret_paths: set[Path_] = field(default_factory=set)
    secret_values: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def problem(self, path: Path_, message: str) -> None:
        message = self.redact(message)
        self.problems.append(Problem(format_path(path), message, self.file, self.line_of(path)))

    def is_secret(self, path: Path_) -> bool:
        """True when the value at `path` is, is inside, or contains a resolved secret."""
        return any(path[: len(s)] == s or s[: len(path)] == path for s in self.secret_paths)

    def redact(self, message: str) -> str:
        """`message` with every resolved secret value (and its repr form) masked."""
        for secret in sorted(self.secret_values, key=len, reverse=True):
            for form in {secret, repr(secret)[1:-1]}:
                message = message.replace(form, "***")
        return message

    def add_validation_errors(self, exc: ValidationError) -> None:
        """One problem per pydantic error, with path, line, and secrets masked."""
        for error in exc.errors():
            self.add_error(error)

    def add_error(self, error: ErrorDetails) -> None:
        path = tuple(error["loc"])
        if path[-1:] == ("[key]",):  # pydantic's marker for a bad mapping key
            path = path[:-1]
        self.problem(path, _message(error, self.is_secret(path)))


def _message(error: ErrorDetails, secret: bool) -> str:
    kind, value = error["type"], "'***'" if secret else _show(error.get("input"))
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}"
    if kind == "value_error":
        text = str(error["msg"]).removeprefix("Value error, ")
        return text if not secret else text.replace(str(error.get("input")), "***")
    return f"{value}: {error['msg'][0].lower()}{error['msg'][1:]}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Alias expansion ("billion laughs") is bounded by its ratio to what was written, not by the
# size of the catalogue: an honest file reuses an anchor a few times per node it writes (merge
# keys, shared defaults), a bomb reaches millions of nodes from a few dozen written ones.
EXPANSION_RATIO = 20
EXPANSION_SLACK = 10_000


class _Budget:
    """Nodes visited (aliases expanded) against the distinct nodes the file actually wrote."""

    def __init__(self) -> None:
        self.visited = 0
        self.written: set[int] = set()

    def visit(self, node: yaml.Node) -> None:
        self.visited += 1
        self.written.add(id(node))
        limit = EXPANSION_RATIO * len(self.written) + EXPANSION_SLACK
        if self.visited > limit:
            raise _Refused(
                f"aliases expand to more than {EXPANSION_RATIO} times the"
                f" {len(self.written)} values written (alias explosion)",
                node.start_mark.line + 1,
            )


class _Refused(Exception):
    """YAML that parses but cannot be a configuration (recursive or exploding aliases)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse(text: str, file: str, environ: Mapping[str, str] | None = None) -> Source:
    source = Source(file)
    try:
        _compose(text, source)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        at = text[: exc.position].count("\n") + 1
        source.problems.append(Problem("", f"invalid YAML: {exc.reason}", file, at))
        return source
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or str(exc)
        source.problems.append(Problem("", f"invalid YAML: {detail}", file, line))
        return source
    except _Refused as exc:
        source.problems.append(Problem("", f"invalid YAML: {exc}", file, exc.line))
        return source
    except RecursionError:
        source.problems.append(Problem("", "invalid YAML: nested too deeply", file, None))
        return source
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a bad !!timestamp or !!int
        source.problems.append(Problem("", f"invalid YAML value: {exc}", file, None))
        return source
    source.data = _resolve_secrets(
        source.data, (), source, os.environ if environ is None else environ
    )
    return source


def _compose(text: str, source: Source) -> None:
    loader = yaml.SafeLoader(text)  # the reader rejects control characters here already
    try:
        node = loader.get_single_node()
        if node is not None:
            _walk(node, (), source, set(), _Budget())
            source.data = loader.construct_document(node)
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path_, source: Source, open_: set[int], budget: _Budget) -> None:
    """Record lines and duplicate keys; refuse recursive aliases and alias explosions."""
    budget.visit(node)
    if id(node) in open_:
        raise _Refused("recursive alias", node.start_mark.line + 1)
    open_.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            source.lines[child] = key_node.start_mark.line + 1  # the last one wins, as in YAML
            if key in seen:
                source.problem(child, f"duplicate key {key!r}")
            seen.add(key)
            _walk(value_node, child, source, open_, budget)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            source.lines[child] = item.start_mark.line + 1
            _walk(item, child, source, open_, budget)
    open_.discard(id(node))


def _resolve_secrets(value: Any, path: Path_, source: Source, environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_secrets(v, (*path, str(k)), source, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, (*path, i), source, environ) for i, v in enumerate(value)]
    if isinstance(value, str) and _SECRET.search(value):
        source.secret_paths.add(path)
        return _SECRET.sub(lambda m: _lookup(m.group(1), path, source, environ), value)
    return value


def _lookup(name: str, path: Path_, source: Source, environ: Mapping[str, str]) -> str:
    if name not in environ:
        source.problem(path, f"environment variable {name} is not set")
        return ""
    if environ[name]:
        source.secret_values.add(environ[name])
        SECRETS.add(environ[name])  # one mask for probes, receivers and logs
    return environ[name]
