"""The `quar:` configuration: targets, tolerances, critical values, weights, TR method.

Defaults are the 2024 QUAR (semantics.md §7) with the 2021/2022 realised values as history, so
next year's QUAR is an edit of `quar.yaml`, not a release. The file holds the mapping itself,
or the same mapping under a top-level `quar:` key.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.catalog.errors import CatalogError, Problem
from checks.yamlsource import parse


class QuarConfigError(CatalogError):
    """Invalid `quar.yaml`; same shape (path, value, file, line) as catalogue errors."""


class Polarity(enum.StrEnum):
    HIGHER = "higher"  # higher is better (Ind.3, coverage)
    LOWER = "lower"  # lower is better (Ind.4)


class Method(enum.StrEnum):
    BAND = "band"  # semantics §7, the default
    RATIO = "ratio"  # R / M (or M / R), for comparison with older QUARs


class IndicatorTarget(BaseModel):
    """One indicator: meta M, tolerância T, valor crítico VC, peso (percent of the objective)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float
    tolerance: float = Field(ge=0)
    critical: float
    weight: float = Field(default=0, ge=0, le=100)
    polarity: Polarity = Polarity.HIGHER
    unit: str = "%"
    history: dict[int, float] = Field(default_factory=dict)  # year -> realised value

    @property
    def lower(self) -> float:
        return self.target - self.tolerance

    @property
    def upper(self) -> float:
        return self.target + self.tolerance

    @model_validator(mode="after")
    def _critical_beyond_band(self) -> IndicatorTarget:
        if self.polarity is Polarity.HIGHER and not self.critical > self.upper:
            raise ValueError(
                f"critical {self.critical} must be above the band's upper edge {self.upper} "
                "(higher is better)"
            )
        if self.polarity is Polarity.LOWER and not self.critical < self.lower:
            raise ValueError(
                f"critical {self.critical} must be below the band's lower edge {self.lower} "
                "(lower is better)"
            )
        return self


class ObjectiveRule(BaseModel):
    """The objective's TR is the weighted sum; Superou above `threshold`, Atingiu at it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "OP3"
    threshold: float = Field(default=100.0, gt=0)
    indicators: tuple[str, ...] = ("ind3", "ind4")


def _default_indicators() -> dict[str, IndicatorTarget]:
    return {
        "ind3": IndicatorTarget(
            target=99.0, tolerance=0.5, critical=99.9, weight=60,
            history={2021: 98.7, 2022: 98.8},
        ),
        "ind4": IndicatorTarget(
            target=35, tolerance=5, critical=20, weight=40, polarity=Polarity.LOWER,
            unit="min", history={2021: 34.2, 2022: 37.8},
        ),
        "coverage": IndicatorTarget(target=95, tolerance=0, critical=100, weight=0),
    }  # fmt: skip


INDICATOR_KEYS = ("ind3", "ind4", "coverage")


class QuarConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = 2024
    method: Method = Method.BAND
    cap: float = Field(default=125.0, ge=100)  # percent: the highest TR
    slope: float = Field(default=25.0, ge=0)  # percent gained from the band's edge to VC
    objective: ObjectiveRule = ObjectiveRule()
    indicators: dict[str, IndicatorTarget] = Field(default_factory=_default_indicators)
    # per-tier availability targets (percent) for the month-to-date downtime budget;
    # a tier not listed uses Ind.3's meta
    tier_targets: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> QuarConfig:
        missing = [k for k in INDICATOR_KEYS if k not in self.indicators]
        if missing:
            raise ValueError(f"indicators {missing} are missing (need {list(INDICATOR_KEYS)})")
        unknown = [k for k in self.objective.indicators if k not in self.indicators]
        if unknown:
            raise ValueError(f"objective indicators {unknown} are not defined")
        total = sum(self.indicators[k].weight for k in self.objective.indicators)
        if abs(total - 100) > 1e-9:
            raise ValueError(
                f"weights of {list(self.objective.indicators)} add up to {total}, not 100"
            )
        return self

    def tier_target(self, tier: str) -> float:
        return self.tier_targets.get(tier, self.indicators["ind3"].target)


DEFAULT_QUAR = QuarConfig()


def load_quar(path: str | Path | None) -> QuarConfig:
    """The configuration in `path`, or the built-in 2024 defaults when `path` is None.

    Raises QuarConfigError with the YAML path and line of every problem.
    """
    if path is None:
        return DEFAULT_QUAR
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuarConfigError(
            [Problem("", f"cannot read the QUAR file: {exc}", file, None)]
        ) from None
    source = parse(text, file, {})
    if source.problems:
        raise QuarConfigError(source.problems)
    data, prefix = _unwrap(source.data, file)
    try:
        return QuarConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            source.add_error({**error, "loc": (*prefix, *error["loc"])})
        raise QuarConfigError(source.problems) from None


def _unwrap(data: Any, file: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    if data is None:
        return {}, ()
    if not isinstance(data, dict):
        raise QuarConfigError([Problem("", "the QUAR file must be a mapping", file, 1)])
    if set(data) == {"quar"}:
        inner = data["quar"] or {}
        if not isinstance(inner, dict):
            raise QuarConfigError([Problem("quar", "must be a mapping", file, 1)])
        return inner, ("quar",)
    return data, ()
