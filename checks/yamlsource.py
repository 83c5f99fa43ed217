"""YAML to plain data, keeping the line of every key and item, and `${NAME}` secrets resolved."""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from checks.problem import Problem
from checks.secrets import SECRETS

Path_ = tuple[str | int, ...]
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Source:
    """Parsed YAML plus where each value came from."""

    file: str
    data: Any = None
    root: yaml.Node | None = None  # the composed YAML, kept for the lines of errors
    secret_paths: set[Path_] = field(default_factory=set)
    secret_values: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    _around: set[Path_] | None = field(default=None, repr=False)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        return line_of(self.root, path)

    def problem(self, path: Path_, message: str) -> None:
        message = self.redact(message)
        self.problems.append(Problem(format_path(path), message, self.file, self.line_of(path)))

    def is_secret(self, path: Path_) -> bool:
        """True when the value at `path` is, is inside, or contains a resolved secret."""
        if any(path[:cut] in self.secret_paths for cut in range(len(path) + 1)):
            return True
        return path in self._around_secrets()

    def _around_secrets(self) -> set[Path_]:
        """Every path that holds a secret somewhere below it, worked out at the first error."""
        if self._around is None:
            self._around = {s[:cut] for s in self.secret_paths for cut in range(len(s))}
        return self._around

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

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"  # the `=` key, a plain string to PyYAML's constructor
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE

# A path as a linked pair (parent, part), root None: one small tuple per container on the
# way down, flattened only for the rare value that needs its path (an error, a secret).
_Link = tuple[Any, str | int] | None


class _Refused(Exception):
    """YAML that parses but cannot be a configuration (recursive or exploding aliases)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse(text: str, file: str, environ: Mapping[str, str] | None = None) -> Source:
    source = Source(file)
    try:
        _compose(text, source, os.environ if environ is None else environ)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        at = text.encode("utf-8")[: exc.position].count(b"\n") + 1  # libyaml counts bytes
        source.problems.append(Problem("", f"invalid YAML: {exc.reason}", file, at))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or str(exc)
        source.problems.append(Problem("", f"invalid YAML: {detail}", file, line))
    except _Refused as exc:
        source.problems.append(Problem("", f"invalid YAML: {exc}", file, exc.line))
    except RecursionError:
        source.problems.append(Problem("", "invalid YAML: nested too deeply", file, None))
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a bad !!timestamp or !!int
        source.problems.append(Problem("", f"invalid YAML value: {exc}", file, None))
    else:
        return source
    source.data = None
    return source


def _compose(text: str, source: Source, environ: Mapping[str, str]) -> None:
    """libyaml composes the node graph (C speed: the pure-Python scanner was ~90 % of a big
    catalogue's load); one Python pass then builds the data from it (_Builder)."""
    bad = _NON_PRINTABLE.search(text)  # PyYAML's own reader check, its message and position
    if bad:
        at = len(text[: bad.start()].encode("utf-8"))
        reason = "special characters are not allowed"
        raise yaml.reader.ReaderError(source.file, at, ord(bad.group()), "unicode", reason)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            source.root = node
            builder = _Builder(loader, source, environ)
            source.data = builder.build(node, None)
            for path, message in builder.missing:
                source.problem(path, message)
    finally:
        loader.dispose()


class _Loader(yaml.CSafeLoader):
    """libyaml's parser with PyYAML's safe resolver, which it calls for every node: the
    implicit tag of a plain scalar (int, bool, str, ...) depends on its text alone, and a
    catalogue repeats the same few thousand texts, so each is resolved once. The safe
    resolver has no path resolvers, so descending and ascending have nothing to track."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.tags: dict[str, str] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self.tags.get(value)
            if tag is None:
                tag = self.tags[value] = self._resolve(kind, value, implicit)
            return tag
        return self._resolve(kind, value, implicit)

    def _resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


assert not yaml.CSafeLoader.yaml_path_resolvers  # what _Loader's no-op descent relies on


class _Builder:
    """Plain data from the node graph, as PyYAML's SafeConstructor builds it (merge keys,
    implicit types), while it also reports duplicate keys, resolves `${NAME}` secrets,
    refuses recursive aliases and bounds alias expansion: nodes visited (each alias expanded)
    against the node references the file actually wrote."""

    def __init__(self, loader: Any, source: Source, environ: Mapping[str, str]) -> None:
        self.loader, self.source, self.environ = loader, source, environ
        self.visited = 0
        self.written = 1  # the root, then the children of each distinct container
        self.seen: set[int] = set()
        self.open: set[int] = set()
        self.missing: list[tuple[Path_, str]] = []
        self.typed_values: dict[tuple[str, str], Any] = {}

    def build(self, node: yaml.Node, path: _Link) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        first = self.enter(node)
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
                return self.mapping(node, path, first)
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
                return self.sequence(node, path)
            self.walk(node, path, first)  # !!set, !!omap, ...: checked here, built by PyYAML
            return self.loader.construct_object(node, deep=True)
        finally:
            self.open.discard(id(node))

    def enter(self, node: yaml.Node) -> bool:
        """Count the visit; True on the first visit of this node."""
        key = id(node)
        if key in self.open:
            raise _Refused("recursive alias", node.start_mark.line + 1)
        self.open.add(key)
        self.visited += len(node.value)
        first = key not in self.seen
        if first:
            self.seen.add(key)
            self.written += len(node.value)
        if self.visited > EXPANSION_RATIO * self.written + EXPANSION_SLACK:
            raise _Refused(
                f"aliases expand to more than {EXPANSION_RATIO} times the"
                f" {self.written} values written (alias explosion)",
                node.start_mark.line + 1,
            )
        return first

    def walk(self, node: yaml.Node, path: _Link, first: bool) -> None:
        if isinstance(node, yaml.MappingNode):
            self.mapping(node, path, first)
        else:
            self.sequence(node, path)

    # The loops below take plain strings (most of a catalogue) inline: a call per value was
    # a third of the pass.
    def sequence(self, node: yaml.Node, path: _Link) -> list[Any]:
        items: list[Any] = []
        for index, item in enumerate(node.value):
            if item.tag == _STR and type(item) is yaml.ScalarNode and "${" not in item.value:
                items.append(item.value)
            else:
                items.append(self.build(item, (path, index)))
        return items

    def mapping(self, node: yaml.MappingNode, path: _Link, first: bool) -> dict[Any, Any]:
        own: dict[Any, Any] = {}
        merged: dict[Any, Any] | None = None
        names: set[str] | None = set() if first else None  # duplicates: once, not per alias
        for key_node, value_node in node.value:
            plain = key_node.tag == _STR
            name = key_node.value if plain else str(key_node.value)
            if names is not None:
                if name in names:
                    self.source.problem((*_flat(path), name), f"duplicate key {name!r}")
                names.add(name)
            if key_node.tag == _MERGE:
                merged = self.merge(node, value_node, path, merged)
                continue
            key = name if plain else self.key(node, key_node)
            if value_node.tag == _STR and type(value_node) is yaml.ScalarNode:
                value = value_node.value
                own[key] = value if "${" not in value else self.scalar(value_node, (path, name))
            else:
                own[key] = self.build(value_node, (path, name))
        return own if merged is None else {**merged, **own}

    def merge(
        self, node: yaml.Node, value: yaml.Node, path: _Link, merged: dict[Any, Any] | None
    ) -> dict[Any, Any]:
        """What a `<<` key brings in: of its mappings the first wins; the mapping's own keys
        win over all of them (PyYAML's flatten_mapping)."""
        merged = {} if merged is None else merged
        for source in reversed(_merge_sources(node, value)):
            merged.update(self.build(source, path))
        return merged

    def key(self, node: yaml.Node, key_node: yaml.Node) -> Any:
        if key_node.tag == _VALUE:
            return key_node.value
        key = self.loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found unhashable key",
                key_node.start_mark,
            )
        return key

    def lookup(self, name: str, path: Path_) -> str:
        """A secret's value; a missing one is reported only once the whole file has built."""
        if name not in self.environ:
            self.missing.append((path, f"environment variable {name} is not set"))
            return ""
        value = self.environ[name]
        if value:
            self.source.secret_values.add(value)
            SECRETS.add(value)  # one mask for probes, receivers and logs
        return value

    def scalar(self, node: yaml.ScalarNode, path: _Link) -> Any:
        value = node.value if node.tag == _STR else self.typed(node)
        if isinstance(value, str) and "${" in value and _SECRET.search(value):
            flat = _flat(path)
            self.source.secret_paths.add(flat)
            return _SECRET.sub(lambda m: self.lookup(m.group(1), flat), value)
        return value

    def typed(self, node: yaml.ScalarNode) -> Any:
        """An int, bool, null, float or timestamp: immutable, so one per distinct text."""
        if node.tag not in _IMMUTABLE:
            return self.loader.construct_object(node)  # other tags, and PyYAML's errors
        key = (node.tag, node.value)
        value = self.typed_values.get(key, _UNSET)
        if value is _UNSET:
            value = self.typed_values[key] = self.loader.construct_object(node)
        return value


_UNSET = object()
_IMMUTABLE = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("int", "bool", "null", "float", "timestamp")
)


def _merge_sources(node: yaml.Node, value: yaml.Node) -> list[yaml.MappingNode]:
    """The mappings a `<<` key merges in (PyYAML's flatten_mapping rules)."""
    sources: list[Any] = value.value if isinstance(value, yaml.SequenceNode) else [value]
    for source in sources:
        if not isinstance(source, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"expected a mapping or list of mappings for merging, but found {source.id}",
                source.start_mark,
            )
    return sources


def _flat(link: _Link) -> Path_:
    parts: list[str | int] = []
    while link is not None:
        link, part = link
        parts.append(part)
    return tuple(reversed(parts))


def line_of(root: yaml.Node | None, path: Path_) -> int | None:
    """The line where `path` is written (a mapping key's line, a list item's), or its
    nearest ancestor's: found by walking the node graph, only when an error needs it."""
    node, line = root, None
    for part in path:
        found = _child(node, part, set())
        if found is None:
            break
        line, node = found
    return line


def _child(node: Any, part: str | int, through: set[int]) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.SequenceNode):
        if isinstance(part, int) and 0 <= part < len(node.value):
            return node.value[part].start_mark.line + 1, node.value[part]
        return None
    if not isinstance(node, yaml.MappingNode) or id(node) in through:
        return None
    through.add(id(node))
    found = None
    for key_node, value_node in node.value:  # the last one wins, as in YAML
        if key_node.tag != _MERGE and str(key_node.value) == str(part):
            found = key_node.start_mark.line + 1, value_node
    for key_node, value_node in node.value if found is None else ():
        if key_node.tag == _MERGE:  # a merged key: the line its anchor wrote it on
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                found = found or _child(source, part, through)
    return found
