"""Loading alert rule files: the schema (alerting/rules.py) with each condition's typed params
(alerting/rule_params.py), unique names, every problem with its path and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from alerting.errors import RulesError
from alerting.rules import CONDITION_NAMES, DEFAULT_RULES, Rule, RuleFile
from checks.problem import Problem
from checks.yamlsource import Source, parse


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rules of `path` (default: the shipped set), or RulesError listing every problem."""
    file = Path(path) if path else DEFAULT_RULES
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read alert rules {file}: {exc}") from None
    return parse_rules(text, str(file))


def parse_rules(text: str, file: str = "rules.yaml") -> list[Rule]:
    source = parse(text, file, environ={})
    problems = list(source.problems)
    if not problems:
        try:
            rules = RuleFile.model_validate(source.data).rules
        except ValidationError as exc:
            _add_errors(source, exc)
            problems = source.problems
        else:
            problems = _duplicates(rules, source)
    if problems:
        raise RulesError("\n".join(str(p) for p in problems))
    return rules


def _duplicates(rules: list[Rule], source: Source) -> list[Problem]:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.name in seen:
            source.problem(("rules", index, "name"), f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
    return list(source.problems)


def _add_errors(source: Source, exc: ValidationError) -> None:
    """pydantic's errors, placed as the rule file is written: a rule's location without the
    union's tag (its `when`), and the problems of its params in the words of params."""
    params_seen: set[tuple[int, Any]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        if loc[:1] != ("rules",) or len(loc) < 2 or not isinstance(loc[1], int):
            source.add_error(error)
        elif len(loc) == 2 and error["type"].startswith("union_tag_"):
            source.problem((*loc, "when"), _when_message(error))
        elif len(loc) > 2 and loc[2] in CONDITION_NAMES:
            when, rest = str(loc[2]), loc[3:]
            if rest[:1] == ("params",) and len(rest) > 1:
                if (loc[1], rest[1]) not in params_seen:  # one problem per param
                    params_seen.add((loc[1], rest[1]))
                    message = _param_message(when, rest[1], rest[2:], error)
                    source.problem((*loc[:2], "params"), message)
            else:
                moved = dict(error)
                moved["loc"] = (*loc[:2], *rest)
                source.add_error(cast(ErrorDetails, moved))
        else:
            source.add_error(error)


_SCALARS = {"int", "float", "bool", "str"}  # measurement's `value`: what pydantic calls them


def _when_message(error: ErrorDetails) -> str:
    if error["type"] == "union_tag_not_found":
        return "required key is missing"
    context = error.get("ctx", {})
    return f"{context.get('tag')!r}: input should be one of {context.get('expected_tags')}"


def _param_message(when: str, key: Any, below: tuple[Any, ...], error: ErrorDetails) -> str:
    kind, value = error["type"], error.get("input")
    if below[:1] and below[0] in _SCALARS:  # the first of the union's refusals: name them all
        return f"{key}: {value!r} is not a number, true/false or a text"
    if kind == "missing":
        return f"condition {when!r} needs param {key!r}"
    if kind == "extra_forbidden":
        return f"condition {when!r} has no param {key!r}"
    if kind in ("literal_error", "enum"):
        return f"{key}: {value!r} is not one of {error.get('ctx', {}).get('expected')}"
    text = str(error["msg"])
    if kind == "value_error":
        return f"{key}: {text.removeprefix('Value error, ')}"
    return f"{key}: {value!r}: {text[:1].lower()}{text[1:]}"
