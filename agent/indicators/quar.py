"""QUAR grading (Superou / Atingiu / Não atingiu) and taxa de realização (semantics.md §7). Pure.

With result R, meta M, tolerância T, valor crítico VC and band [L, U] = [M - T, M + T] (edges
inside the band), TR is, by the "band" method:

    higher is better:  R in [L,U] -> 100 %;  R > U -> min(cap, 100 + slope (R - U) / (VC - U));
                       R < L -> 100 R / L
    lower is better:   R in [L,U] -> 100 %;  R < L -> min(cap, 100 + slope (L - R) / (L - VC));
                       R > U -> 100 U / R

The "ratio" method is 100 R / M (100 M / R for lower is better), capped the same way. A missing
result (None) has no grade and no TR: it is never taken as met.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from agent.indicators.quar_config import IndicatorTarget, Method, Polarity, QuarConfig

_EPSILON = 1e-9  # TR sums of floats compared with the objective's threshold


class Grade(enum.StrEnum):
    SUPEROU = "superou"
    ATINGIU = "atingiu"
    NAO_ATINGIU = "nao_atingiu"


def grade(result: float, target: IndicatorTarget) -> Grade:
    """The grade of one indicator: band edges are inside the band (Atingiu)."""
    if target.lower <= result <= target.upper:
        return Grade.ATINGIU
    above = result > target.upper
    better = above if target.polarity is Polarity.HIGHER else not above
    return Grade.SUPEROU if better else Grade.NAO_ATINGIU


def realisation(
    result: float,
    target: IndicatorTarget,
    *,
    method: Method = Method.BAND,
    cap: float = 125.0,
    slope: float = 25.0,
) -> float:
    """Taxa de realização in percent (100.0 = met exactly)."""
    if method is Method.RATIO:
        return _ratio(result, target, cap)
    lower, upper, critical = target.lower, target.upper, target.critical
    if lower <= result <= upper:
        return 100.0
    if target.polarity is Polarity.HIGHER:
        if result > upper:
            return min(cap, 100.0 + slope * (result - upper) / (critical - upper))
        return 100.0 * result / lower
    if result < lower:
        return min(cap, 100.0 + slope * (lower - result) / (lower - critical))
    return 100.0 * upper / result


def _ratio(result: float, target: IndicatorTarget, cap: float) -> float:
    if target.polarity is Polarity.HIGHER:
        return min(cap, 100.0 * result / target.target)
    if result <= 0:
        return cap  # nothing to restore: the best possible result
    return min(cap, 100.0 * target.target / result)


def objective_grade(tr: float, threshold: float = 100.0) -> Grade:
    """Superou above the threshold, Atingiu at it, Não atingiu below."""
    if abs(tr - threshold) <= _EPSILON:
        return Grade.ATINGIU
    return Grade.SUPEROU if tr > threshold else Grade.NAO_ATINGIU


@dataclass(frozen=True, slots=True)
class GradedIndicator:
    key: str  # ind3 | ind4 | coverage
    result: float | None
    target: IndicatorTarget
    grade: Grade | None  # None when the result is N/A
    tr: float | None


@dataclass(frozen=True, slots=True)
class GradedObjective:
    name: str
    tr: float | None  # None when one of its weighted indicators is N/A
    grade: Grade | None
    missing: tuple[str, ...]  # indicators without a result, the reason for N/A


@dataclass(frozen=True, slots=True)
class Assessment:
    indicators: dict[str, GradedIndicator]
    objective: GradedObjective


def assess(results: Mapping[str, float | None], config: QuarConfig) -> Assessment:
    """Grade every configured indicator and the weighted objective."""
    graded = {key: _graded(key, results.get(key), config) for key in config.indicators}
    return Assessment(graded, _objective(graded, config))


def _graded(key: str, result: float | None, config: QuarConfig) -> GradedIndicator:
    target = config.indicators[key]
    if result is None:
        return GradedIndicator(key, None, target, None, None)
    tr = realisation(result, target, method=config.method, cap=config.cap, slope=config.slope)
    return GradedIndicator(key, result, target, grade(result, target), tr)


def _objective(graded: Mapping[str, GradedIndicator], config: QuarConfig) -> GradedObjective:
    rule = config.objective
    missing = tuple(k for k in rule.indicators if graded[k].tr is None)
    if missing:
        return GradedObjective(rule.name, None, None, missing)
    tr = sum((graded[k].tr or 0.0) * graded[k].target.weight / 100 for k in rule.indicators)
    return GradedObjective(rule.name, tr, objective_grade(tr, rule.threshold), ())
