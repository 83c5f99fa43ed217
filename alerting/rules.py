"""The alert rules' schema (`alerting/rules.yaml`) and their templates; loading them, with
path+line errors, is alerting/rule_file.py.

A rule names one built-in condition (`when`) with its parameters; the condition decides for
which subject (a service, a check, or the agent itself) the alert is active. The rest — `for`,
severity, team, labels, annotations — is the same for every rule, as in Prometheus. A rule is
one type per condition (a union told apart by `when`), each with its typed params
(alerting/rule_params.py), so they are checked once, at load.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from jinja2 import Template, TemplateError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting import rule_params as p
from alerting.template_bounds import BoundedSandbox, render_bounded
from checks.durations import Duration

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
TEMPLATES = BoundedSandbox()


class RuleBase(BaseModel):
    """What every rule has, whichever its condition."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    for_: Duration = Field(default=0.0, alias="for")
    severity: str = "tier"  # "tier": the service tier's severity from the catalogue
    team: Literal["cco", "soc", "network"]
    tiers: list[str] | None = None  # only services of these tiers
    pcn: bool | None = None  # only services with this pcn flag
    hold: Duration = 3600.0  # change alerts stay firing this long after the change
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("annotations", "labels")
    @classmethod
    def _templates_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            try:
                TEMPLATES.from_string(text)
            except TemplateError as exc:
                raise ValueError(f"{key}: template does not compile: {exc}") from exc
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", key):
                raise ValueError(f"{key!r} is not a valid label name")
        return value

    @model_validator(mode="before")
    @classmethod
    def _params_default_empty(cls, data: Any) -> Any:
        # no `params` is every param left out: a missing required one is named as such
        if isinstance(data, dict) and "params" not in data:
            return {**data, "params": {}}
        return data


# ---- one rule type per condition, told apart by `when` -------------------------------------


class ServiceStateRule(RuleBase):
    when: Literal["service_state"]
    params: p.ServiceStateParams


class FlappingRule(RuleBase):
    when: Literal["flapping"]
    params: p.NoParams


class RootCauseRule(RuleBase):
    when: Literal["root_cause"]
    params: p.NoParams


class IncidentOpenForRule(RuleBase):
    when: Literal["incident_open_for"]
    params: p.IncidentOpenForParams


class BurnRateRule(RuleBase):
    when: Literal["burn_rate"]
    params: p.BurnRateParams


class CheckOutcomeRule(RuleBase):
    when: Literal["check_outcome"]
    params: p.CheckOutcomeParams


class MeasurementRule(RuleBase):
    when: Literal["measurement"]
    params: p.MeasurementParams


class ChangedRule(RuleBase):
    when: Literal["changed"]
    params: p.ChangedParams


class LocationCheckFailingRule(RuleBase):
    when: Literal["location_check_failing"]
    params: p.CheckParams


class AgentRule(RuleBase):
    when: Literal["agent"]
    params: p.AgentParams


class WatchdogRule(RuleBase):
    when: Literal["watchdog"]
    params: p.NoParams


class ClusterNodeDownRule(RuleBase):
    when: Literal["cluster_node_down"]
    params: p.NoParams


class PartitionUnownedRule(RuleBase):
    when: Literal["partition_unowned"]
    params: p.NoParams


CheckRule = CheckOutcomeRule | MeasurementRule | ChangedRule | LocationCheckFailingRule
Rule = Annotated[
    ServiceStateRule
    | FlappingRule
    | RootCauseRule
    | IncidentOpenForRule
    | BurnRateRule
    | CheckRule
    | AgentRule
    | WatchdogRule
    | ClusterNodeDownRule
    | PartitionUnownedRule,
    Field(discriminator="when"),
]
RULE_TYPES: tuple[type[RuleBase], ...] = get_args(get_args(Rule)[0])
CONDITION_NAMES: tuple[str, ...] = tuple(
    get_args(cls.model_fields["when"].annotation)[0] for cls in RULE_TYPES
)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    rules: list[Rule]


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render a label/annotation template; a failure gives the error text, never an exception."""
    try:
        return render_bounded(_compiled(template), context)
    except Exception as exc:  # any failure (syntax, sandbox refusal, a bound) is shown, not raised
        return f"<template error: {exc}>"


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> Template:
    """Compiling is most of a render's cost, and the rules hold a few dozen templates."""
    return TEMPLATES.from_string(template)
