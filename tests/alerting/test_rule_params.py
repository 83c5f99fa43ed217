"""Rule params are typed and defaulted, and checked once, when the rules load: an evaluation
reads fields, and a mistake in params is a load error with path and line instead of an
alert that never fires (a typo'd param, an outcome no result has) or fails at evaluation."""

from __future__ import annotations

import re

import pytest

from alerting import conditions as cond
from alerting.errors import RulesError
from alerting.rule_file import load_rules, parse_rules
from alerting.rules import (
    CONDITION_NAMES,
    BurnRateRule,
    CheckOutcomeRule,
    IncidentOpenForRule,
    MeasurementRule,
    ServiceStateRule,
)
from checks.result import Outcome


def one(line: str) -> str:
    return f"version: 1\nrules:\n  - {line}\n"


def problems(line: str) -> str:
    with pytest.raises(RulesError) as caught:
        parse_rules(one(line), "rules.yaml")
    return str(caught.value)


def test_the_shipped_rules_hold_typed_params() -> None:
    rules = {r.name: r for r in load_rules()}
    fast = rules["ErrorBudgetBurnFast"]
    assert isinstance(fast, BurnRateRule)
    assert (fast.params.long, fast.params.short, fast.params.factor) == (3600.0, 300.0, 14.4)
    degraded = rules["ServiceDegraded"]
    assert isinstance(degraded, ServiceStateRule) and degraded.params.state == "degraded"
    expiring = next(r for r in rules.values() if isinstance(r, MeasurementRule))
    assert expiring.params.kind == ["tls"] and expiring.params.value == 21


def test_params_left_out_take_their_defaults() -> None:
    (escalation,) = parse_rules(one("{name: A, team: cco, when: incident_open_for}"))
    assert isinstance(escalation, IncidentOpenForRule)
    assert escalation.params.longer_than == 35 * 60
    (outcome,) = parse_rules(one("{name: B, team: soc, when: check_outcome, params: {kind: tls}}"))
    assert isinstance(outcome, CheckOutcomeRule)
    assert outcome.params.outcome == [Outcome.FAIL] and outcome.params.kind == ["tls"]


def test_a_reason_pattern_is_compiled_at_load_and_matches_in_any_case() -> None:
    line = "{name: A, team: soc, when: check_outcome, params: {reason_matches: 'Expired'}}"
    (rule,) = parse_rules(one(line))
    assert isinstance(rule, CheckOutcomeRule)
    assert isinstance(rule.params.reason_matches, re.Pattern)
    assert rule.params.reason_matches.search("certificate has expired")


def test_a_misspelt_param_is_refused_with_its_line() -> None:
    found = problems("{name: A, team: cco, when: incident_open_for, params: {longer_tan: 5m}}")
    assert "condition 'incident_open_for' has no param 'longer_tan' (rules.yaml:3)" in found


def test_an_outcome_no_result_can_have_is_refused() -> None:
    found = problems("{name: A, team: cco, when: check_outcome, params: {outcome: [fial]}}")
    assert "outcome: 'fial' is not one of" in found and "(rules.yaml:3)" in found


def test_a_threshold_that_is_not_a_number_is_refused_at_load() -> None:
    line = "{name: A, team: cco, when: agent, params: {signal: outbox_backlog, above: lots}}"
    assert "above: 'lots': input should be a valid number" in problems(line)


def test_a_rule_with_no_condition_or_an_unknown_one_names_when() -> None:
    assert "rules[0].when: required key is missing (rules.yaml:3)" in problems(
        "{name: A, team: cco}"
    )
    unknown = problems("{name: A, team: cco, when: nothing}")
    assert "rules[0].when: 'nothing': input should be one of 'service_state'" in unknown


def test_every_condition_has_one_rule_type_and_one_function() -> None:
    tables: list[set[str]] = [
        set(cond.SERVICE_CONDITIONS),
        set(cond.CHECK_CONDITIONS),
        set(cond.AGENT_CONDITIONS),
        set(cond.CLUSTER_CONDITIONS),
    ]
    named = [name for table in tables for name in table]
    assert sorted(named) == sorted(CONDITION_NAMES)
    groups = [cond.SERVICE, cond.CHECK, cond.AGENT, cond.CLUSTER]
    assert tables == groups
