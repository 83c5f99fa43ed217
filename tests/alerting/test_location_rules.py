"""LocationCheckFailing: a check failing below its quorum is a location problem (§8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from alerting import conditions as cond
from alerting.rule_file import load_rules
from alerting.rules import AgentRule, LocationCheckFailingRule, RuleBase
from checks.result import Outcome, ProbeResult
from tests.engine.builders import check

R = TypeVar("R", bound=RuleBase)


def shipped(name: str, kind: type[R]) -> R:
    """The shipped rule `name`, of its condition's rule type."""
    found = next(r for r in load_rules() if r.name == name)
    assert isinstance(found, kind)
    return found


def rule() -> LocationCheckFailingRule:
    return shipped("LocationCheckFailing", LocationCheckFailingRule)


def test_the_shipped_rule_is_the_network_teams_with_its_own_severity() -> None:
    shipped = rule()
    assert shipped.team == "network" and shipped.severity == "minor"
    assert shipped.when == "location_check_failing"


def test_it_fires_only_while_some_location_fails_below_the_quorum() -> None:
    probe = ProbeResult("portal/tcp", datetime(2026, 3, 2, tzinfo=UTC), 0.1, Outcome.OK)
    quiet = cond.CheckView(check("portal"), probe, {}, ())
    failing = cond.CheckView(check("portal"), probe, {}, ("lisboa", "porto"))
    assert not cond.location_check_failing(rule(), quiet).active
    active = cond.location_check_failing(rule(), failing)
    assert active.active and active.values == {"locations": "lisboa, porto", "count": 2}


def test_location_down_fires_naming_the_silent_locations() -> None:
    down = shipped("LocationDown", AgentRule)
    assert down.team == "network" and down.severity == "major"
    now = datetime(2026, 3, 2, tzinfo=UTC)
    quiet = cond.AgentView(now, {"locations_down": 0.0, "location_down:porto": 0.0})
    silent = cond.AgentView(
        now, {"locations_down": 2.0, "location_down:porto": 1.0, "location_down:viseu": 1.0}
    )
    assert not cond.agent(down, quiet).active
    fired = cond.agent(down, silent)
    assert fired.active and fired.values["locations"] == "porto, viseu"


def test_location_clock_skew_fires_naming_the_skewed_locations_not_the_silent_ones() -> None:
    skew = shipped("LocationClockSkew", AgentRule)
    assert skew.team == "network" and skew.severity == "major"
    now = datetime(2026, 3, 2, tzinfo=UTC)
    signals = {"locations_skewed": 1.0, "location_skewed:viseu": 1.0, "location_down:porto": 1.0}
    fired = cond.agent(skew, cond.AgentView(now, signals))
    assert fired.active and fired.values["locations"] == "viseu"
    assert not cond.agent(skew, cond.AgentView(now, {"locations_skewed": 0.0})).active
