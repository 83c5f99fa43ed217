"""The alert rules' schema (`alerting/rules.yaml`) and their templates; loading them, with
path+line errors, is alerting/rule_file.py.

A rule names one built-in condition (`when`) with its parameters; the condition decides for
which subject (a service, a check, or the agent itself) the alert is active. The rest — `for`,
severity, team, labels, annotations — is the same for every rule, as in Prometheus.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from jinja2 import Template, TemplateError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.template_bounds import BoundedSandbox, render_bounded
from checks.durations import Duration

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
TEMPLATES = BoundedSandbox()

ConditionName = Literal[
    "service_state",
    "flapping",
    "root_cause",
    "incident_open_for",
    "burn_rate",
    "check_outcome",
    "measurement",
    "changed",
    "location_check_failing",
    "agent",
    "watchdog",
    "cluster_node_down",
    "partition_unowned",
]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    when: ConditionName
    params: dict[str, Any] = Field(default_factory=dict)
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
