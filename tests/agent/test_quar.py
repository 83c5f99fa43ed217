"""QUAR grading and taxa de realização: every branch, the worked examples, config loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.indicators.documents import to_json
from agent.indicators.figures import Coverage, Ind3, Ind4, Indicators
from agent.indicators.periods import parse_period
from agent.indicators.quar import Grade, assess, grade, objective_grade, realisation
from agent.indicators.quar_config import (
    DEFAULT_QUAR,
    IndicatorTarget,
    Method,
    Polarity,
    QuarConfigError,
    load_quar,
)

IND3 = DEFAULT_QUAR.indicators["ind3"]  # M 99.0, T 0.5, VC 99.9
IND4 = DEFAULT_QUAR.indicators["ind4"]  # M 35, T 5, VC 20, lower is better


# ---- worked examples of semantics.md §7 ----------------------------------------------------


def test_ind3_above_the_band_is_superou_with_tr_112_5() -> None:
    assert grade(99.7, IND3) is Grade.SUPEROU
    assert realisation(99.7, IND3) == pytest.approx(112.5)


def test_ind3_below_the_band_is_nao_atingiu_with_tr_r_over_l() -> None:
    assert grade(98.2, IND3) is Grade.NAO_ATINGIU
    assert round(realisation(98.2, IND3), 2) == 99.70


def test_ind4_below_the_band_is_superou_with_tr_112_5() -> None:
    assert grade(25, IND4) is Grade.SUPEROU
    assert realisation(25, IND4) == pytest.approx(112.5)


def test_ind4_above_the_band_is_nao_atingiu_with_tr_u_over_r() -> None:
    assert grade(45, IND4) is Grade.NAO_ATINGIU
    assert round(realisation(45, IND4), 1) == 88.9


def test_op3_weights_ind3_60_and_ind4_40() -> None:
    graded = assess({"ind3": 99.7, "ind4": 45, "coverage": 97}, DEFAULT_QUAR)
    assert graded.objective.tr is not None
    assert round(graded.objective.tr, 2) == 103.06
    assert graded.objective.grade is Grade.SUPEROU
    # the objective is Superou while one of its indicators is Não atingiu: both are shown
    assert graded.indicators["ind4"].grade is Grade.NAO_ATINGIU


# ---- band edges, cap, ratio ------------------------------------------------------------------


@pytest.mark.parametrize("result", [98.5, 99.0, 99.5])
def test_higher_is_better_band_edges_are_atingiu_at_100(result: float) -> None:
    assert grade(result, IND3) is Grade.ATINGIU
    assert realisation(result, IND3) == 100.0


@pytest.mark.parametrize("result", [30.0, 35.0, 40.0])
def test_lower_is_better_band_edges_are_atingiu_at_100(result: float) -> None:
    assert grade(result, IND4) is Grade.ATINGIU
    assert realisation(result, IND4) == 100.0


def test_reaching_the_critical_value_gives_100_plus_slope() -> None:
    assert realisation(99.9, IND3) == pytest.approx(125.0)
    assert realisation(20, IND4) == pytest.approx(125.0)


def test_tr_beyond_the_critical_value_is_capped() -> None:
    assert realisation(100.0, IND3) == 125.0
    assert realisation(0.0, IND4) == 125.0
    assert realisation(100.0, IND3, cap=110, slope=25) == 110.0


def test_slope_is_configurable() -> None:
    assert realisation(99.7, IND3, slope=50, cap=200) == pytest.approx(125.0)


def test_ratio_method_divides_by_the_meta_either_way() -> None:
    assert realisation(98.01, IND3, method=Method.RATIO) == pytest.approx(99.0)
    assert realisation(70, IND4, method=Method.RATIO) == pytest.approx(50.0)
    assert realisation(0, IND4, method=Method.RATIO) == 125.0
    assert realisation(7, IND4, method=Method.RATIO) == 125.0


@pytest.mark.parametrize(
    ("tr", "expected"),
    [(100.0, Grade.ATINGIU), (100.01, Grade.SUPEROU), (99.99, Grade.NAO_ATINGIU)],
)
def test_objective_is_atingiu_only_at_exactly_the_threshold(tr: float, expected: Grade) -> None:
    assert objective_grade(tr) is expected


def test_missing_result_has_no_grade_and_makes_the_objective_not_applicable() -> None:
    graded = assess({"ind3": 99.2, "ind4": None, "coverage": None}, DEFAULT_QUAR)
    assert (graded.indicators["ind4"].grade, graded.indicators["ind4"].tr) == (None, None)
    assert graded.indicators["coverage"].grade is None
    assert (graded.objective.tr, graded.objective.grade) == (None, None)
    assert graded.objective.missing == ("ind4",)


def test_coverage_below_95_is_nao_atingiu() -> None:
    graded = assess({"ind3": 99.0, "ind4": 35, "coverage": 94.9}, DEFAULT_QUAR)
    assert graded.indicators["coverage"].grade is Grade.NAO_ATINGIU
    assert graded.objective.grade is Grade.ATINGIU


# ---- properties ----------------------------------------------------------------------------

TARGETS = st.sampled_from([IND3, IND4])
RESULTS = st.floats(min_value=0.01, max_value=200, allow_nan=False)


@given(TARGETS, RESULTS, RESULTS)
def test_tr_is_monotonic_in_the_result(target: IndicatorTarget, a: float, b: float) -> None:
    low, high = sorted((a, b))
    if target.polarity is Polarity.HIGHER:
        assert realisation(low, target) <= realisation(high, target)
    else:
        assert realisation(low, target) >= realisation(high, target)


@given(TARGETS, st.sampled_from(["lower", "upper"]), st.floats(min_value=1e-9, max_value=1e-6))
def test_tr_is_continuous_at_the_band_edges(target: IndicatorTarget, edge: str, d: float) -> None:
    at = target.lower if edge == "lower" else target.upper
    assert realisation(at - d, target) == pytest.approx(100.0, abs=1e-3)
    assert realisation(at + d, target) == pytest.approx(100.0, abs=1e-3)


@given(TARGETS, RESULTS)
def test_grade_agrees_with_tr(target: IndicatorTarget, result: float) -> None:
    tr, graded = realisation(result, target), grade(result, target)
    expected = {Grade.SUPEROU: tr > 100, Grade.ATINGIU: tr == 100, Grade.NAO_ATINGIU: tr < 100}
    assert expected[graded]
    assert 0 <= tr <= DEFAULT_QUAR.cap


# ---- configuration -----------------------------------------------------------------------


def test_defaults_are_the_2024_quar_with_2021_2022_history() -> None:
    assert (IND3.target, IND3.tolerance, IND3.critical, IND3.weight) == (99.0, 0.5, 99.9, 60)
    assert (IND4.target, IND4.tolerance, IND4.critical, IND4.weight) == (35, 5, 20, 40)
    assert IND3.history == {2021: 98.7, 2022: 98.8}
    assert IND4.history == {2021: 34.2, 2022: 37.8}
    assert load_quar(None) is DEFAULT_QUAR


def test_quar_file_changes_next_years_targets(tmp_path: Path) -> None:
    file = tmp_path / "quar.yaml"
    file.write_text(
        "quar:\n"
        "  year: 2025\n"
        "  method: ratio\n"
        "  indicators:\n"
        "    ind3: {target: 99.2, tolerance: 0.3, critical: 99.8, weight: 50}\n"
        "    ind4: {target: 30, tolerance: 5, critical: 15, weight: 50, polarity: lower}\n"
        "    coverage: {target: 97, tolerance: 0, critical: 100}\n"
    )
    config = load_quar(file)
    assert (config.year, config.method) == (2025, Method.RATIO)
    assert config.indicators["ind3"].target == 99.2
    assert config.tier_target("platina") == 99.2


def test_quar_file_error_names_path_and_line(tmp_path: Path) -> None:
    file = tmp_path / "quar.yaml"
    file.write_text(
        "quar:\n"
        "  indicators:\n"
        "    ind3: {target: 99.0, tolerance: 0.5, critical: 99.9, weight: 60}\n"
        "    ind4: {target: 35, tolerance: -5, critical: 20, weight: 40, polarity: lower}\n"
        "    coverage: {target: 95, tolerance: 0, critical: 100}\n"
    )
    with pytest.raises(QuarConfigError) as caught:
        load_quar(file)
    problem = caught.value.problems[0]
    assert problem.path == "quar.indicators.ind4.tolerance"
    assert problem.line == 4
    assert str(file) in str(caught.value)


def test_weights_must_add_up_to_100(tmp_path: Path) -> None:
    file = tmp_path / "quar.yaml"
    file.write_text(
        "indicators:\n"
        "  ind3: {target: 99.0, tolerance: 0.5, critical: 99.9, weight: 60}\n"
        "  ind4: {target: 35, tolerance: 5, critical: 20, weight: 30, polarity: lower}\n"
        "  coverage: {target: 95, tolerance: 0, critical: 100}\n"
    )
    with pytest.raises(QuarConfigError, match="add up to 90"):
        load_quar(file)


def test_critical_value_on_the_wrong_side_is_refused() -> None:
    with pytest.raises(ValueError, match="must be below"):
        IndicatorTarget(target=35, tolerance=5, critical=50, polarity=Polarity.LOWER)


# ---- the indicators JSON -------------------------------------------------------------------


def test_indicators_json_carries_grading_and_the_objective() -> None:
    period = parse_period("2026-10")
    indicators = Indicators(
        period=period,
        services=(),
        ind3=Ind3(value=99.7, count=1, na_services=()),
        ind4=Ind4(value=45.0, median=45.0, p90=45.0, count=1, open=()),
        coverage=Coverage(value=None, covered=0, total=0, not_covered=()),
    )
    doc = to_json(indicators, DEFAULT_QUAR)
    assert doc["ind3"] | {"tr": round(doc["ind3"]["tr"], 6)} == {
        "value": 99.7, "count": 1, "na_services": [], "target": 99.0, "tolerance": 0.5,
        "critical": 99.9, "weight": 60, "grade": "superou", "tr": 112.5,
    }  # fmt: skip
    assert doc["ind4"]["grade"] == "nao_atingiu"
    assert (doc["coverage"]["grade"], doc["coverage"]["tr"]) == (None, None)
    assert doc["op3"]["grade"] == "superou"
    assert round(doc["op3"]["tr"], 2) == 103.06
    assert "op3" not in to_json(indicators)  # raw figures stay as they were
