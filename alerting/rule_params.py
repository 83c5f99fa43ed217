"""Each condition's `params`, typed and defaulted: validated once, when the rules load, so an
evaluation reads fields instead of parsing a dict (alerting/rules.py names which condition
takes which)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, PlainValidator

from checks.durations import Duration
from checks.result import Outcome

AgentSignal = Literal[
    "lateness_p99_seconds",
    "store_write_errors",
    "store_queue_depth",
    "outbox_backlog",
    "delivery_failures",
    "catalog_reload_failed",
    "agent_unhealthy",
    "locations_down",
    "locations_skewed",
    "locations_blind",
]
AGENT_SIGNALS: frozenset[str] = frozenset(get_args(AgentSignal))
Operator = Literal["<", "<=", ">", ">=", "==", "!="]


def _listed(value: Any) -> Any:
    """A single value where a list is expected stands for the list of it."""
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _compiled(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a regular expression")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(str(exc)) from None


Listed = BeforeValidator(_listed)
Regex = Annotated[re.Pattern[str], PlainValidator(_compiled), PlainSerializer(lambda p: p.pattern)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


class ServiceStateParams(Params):
    state: Literal["down", "degraded"] = "down"


class IncidentOpenForParams(Params):
    longer_than: Duration = 35 * 60.0  # the Ind.4 meta


class BurnRateParams(Params):
    long: Duration
    short: Duration
    factor: float
    objective: float = 0.99


class CheckParams(Params):
    """What every check rule may filter its checks on."""

    kind: Annotated[list[str], Listed] | None = None
    spec_flag: str | None = None  # e.g. `static`: only checks whose spec sets it


class CheckOutcomeParams(CheckParams):
    outcome: Annotated[list[Outcome], Listed] = [Outcome.FAIL]
    reason_matches: Regex | None = None  # searched in the result's reason, any case


class MeasurementParams(CheckParams):
    field: str
    op: Operator = "<"
    value: int | float | bool | str


class ChangedParams(CheckParams):
    field: str


class AgentParams(Params):
    signal: AgentSignal
    above: float = 0.0
