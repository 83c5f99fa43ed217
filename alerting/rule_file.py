"""Loading alert rule files: the schema (alerting/rules.py), unique names and each
condition's parameters (alerting/conditions.py) checked, every problem with its path and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.catalog.errors import Problem
from agent.catalog.yamlsource import parse
from alerting.conditions import validate_params
from alerting.errors import RulesError
from alerting.rules import DEFAULT_RULES, Rule, RuleFile


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
            source.add_validation_errors(exc)
            problems = source.problems
        else:
            problems = _duplicates(rules, source)
            if not problems:
                problems = _param_problems(rules, source)
    if problems:
        raise RulesError("\n".join(str(p) for p in problems))
    return rules


def _duplicates(rules: list[Rule], source: Any) -> list[Problem]:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.name in seen:
            source.problem(("rules", index, "name"), f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
    return list(source.problems)


def _param_problems(rules: list[Rule], source: Any) -> list[Problem]:
    for index, rule in enumerate(rules):
        for message in validate_params(rule):
            source.problem(("rules", index, "params"), message)
    return list(source.problems)
