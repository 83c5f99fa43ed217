"""Flapping: Nagios percent state change, detection thresholds, incident merging (§2-§3)."""

from __future__ import annotations

import pytest

from agent.engine.flapping import FlapDetector, percent_change
from agent.records import FlappingChanged, Fragment, Incident
from tests.engine.builders import at, catalog, check, engine, feed, incidents, of_type, service


def test_percent_is_100_when_all_20_transitions_happen() -> None:
    states = ["up", "down"] * 10 + ["up"]
    assert percent_change(states) == pytest.approx(100.0)


def test_percent_of_one_newest_transition_weighs_1_25() -> None:
    assert percent_change(["up"] * 20 + ["down"]) == pytest.approx(6.25)


def test_percent_of_one_oldest_transition_weighs_0_75() -> None:
    assert percent_change(["up"] + ["down"] * 20) == pytest.approx(3.75)


def test_percent_of_two_newest_transitions() -> None:
    # slots 19 and 20: (0.75 + 18 x 0.5 / 19) + 1.25 = 2.4736842..., x 100 / 20
    assert percent_change(["up"] * 19 + ["down", "up"]) == pytest.approx(12.368421, abs=1e-6)


def test_a_short_history_is_aligned_on_the_newest_entry() -> None:
    assert percent_change(["up", "down"]) == pytest.approx(6.25)


def test_only_the_last_21_states_count() -> None:
    assert percent_change(["down"] + ["up"] * 21) == 0.0


def test_flapping_starts_at_flap_start_and_stops_at_flap_stop() -> None:
    detector = FlapDetector()
    seen = [detector.add(s, 20, 5) for s in ["up", "down", "up", "down", "up"]]
    assert [changed for changed, _ in seen] == [False, False, False, False, True]
    assert detector.flapping
    steady = [detector.add("up", 20, 5) for _ in range(19)]
    # 16 steady: the 4 transitions sit in the oldest slots, 15.79 %; then 11.64, 7.63 and,
    # with one transition left in slot 1, 3.75 % <= 5: stop
    assert [round(p, 2) for _, p in steady[15:]] == [15.79, 11.64, 7.63, 3.75]
    assert [i for i, (changed, _) in enumerate(steady) if changed] == [18]
    assert not detector.flapping


def test_a_down_while_flapping_is_merged_into_the_previous_incident() -> None:
    quick = check("portal", confirm_down=1, confirm_up=1)
    eng = engine(catalog(service("portal", quick)))
    effects = feed(eng, "portal/tcp", "ofofofo")
    [started] = of_type(effects, FlappingChanged)
    assert (started.at, started.flapping) == (at(240), True)
    assert started.percent == pytest.approx(24.210526, abs=1e-6)
    assert incidents(effects) == [
        Incident(
            id=1,
            service="portal",
            tier="platina",
            pcn=True,
            started_at=at(60),
            confirmed_at=at(60.5),
            ended_at=at(120),
            restore_seconds=60.0,
            cause="portal/tcp: connection refused",
            fragments=(Fragment(at(60), at(60.5), at(120)),),
        ),
        Incident(
            id=2,
            service="portal",
            tier="platina",
            pcn=True,
            started_at=at(180),
            confirmed_at=at(180.5),
            ended_at=at(360),
            restore_seconds=180.0,
            cause="portal/tcp: connection refused",
            fragments=(
                Fragment(at(180), at(180.5), at(240)),
                Fragment(at(300), at(300.5), at(360)),
            ),
        ),
    ]
    assert eng.service_status("portal").flapping
