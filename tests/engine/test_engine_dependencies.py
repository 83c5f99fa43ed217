"""Dependencies: root cause and alert inhibition from DOWN parents (semantics.md §2)."""

from __future__ import annotations

from agent.catalog.model import Catalog
from agent.records import IncidentSaved, State
from tests.engine.builders import at, catalog, check, engine, feed, incidents, of_type, service


def stack() -> Catalog:
    return catalog(
        service("dns", check("dns", confirm_down=2)),
        service("network", check("network", confirm_down=2), depends_on=["dns"]),
        service("portal", check("portal", confirm_down=2), depends_on=["network"]),
    )


def test_a_child_failing_while_its_parent_is_down_gets_the_root_cause_and_is_inhibited() -> None:
    eng = engine(stack())
    feed(eng, "network/tcp", "off", start=0)  # network DOWN from 60, confirmed at 120
    effects = feed(eng, "portal/tcp", "off", start=1)  # portal DOWN from 61
    [incident] = incidents(effects)
    assert (incident.service, incident.root_cause, incident.inhibited) == (
        "portal",
        "network",
        True,
    )
    assert eng.service_status("portal").state is State.DOWN  # still DOWN in its own timeline


def test_a_parent_confirmed_later_but_down_earlier_updates_the_child_incident() -> None:
    eng = engine(stack())
    feed(eng, "network/tcp", "of", start=0)  # network soft-failing from 60
    opened = feed(eng, "portal/tcp", "off", start=61)  # portal DOWN from 121, confirmed 181
    effects = feed(eng, "network/tcp", "f", start=190)  # network confirmed, DOWN from 60
    assert [(i.root_cause, i.inhibited) for i in incidents(opened)] == [(None, False)]
    saved = [e.incident for e in of_type(effects, IncidentSaved) if e.incident.service == "portal"]
    assert [(i.id, i.started_at, i.root_cause, i.inhibited) for i in saved] == [
        (1, at(121), "network", True)
    ]


def test_a_parent_down_after_the_child_started_is_not_its_root_cause() -> None:
    eng = engine(stack())
    feed(eng, "portal/tcp", "off", start=1)  # portal DOWN from 61
    effects = feed(eng, "network/tcp", "off", start=100)  # network DOWN from 160
    assert [e.incident.service for e in of_type(effects, IncidentSaved)] == ["network"]
    child = eng.open_incident("portal")
    assert child is not None
    assert (child.root_cause, child.inhibited) == (None, False)


def test_root_cause_is_the_furthest_up_ancestor_that_is_down() -> None:
    eng = engine(stack())
    feed(eng, "dns/tcp", "off", start=0)
    network = incidents(feed(eng, "network/tcp", "off", start=1))
    portal = incidents(feed(eng, "portal/tcp", "off", start=2))
    assert [(i.service, i.root_cause) for i in network + portal] == [
        ("network", "dns"),
        ("portal", "dns"),
    ]


def test_a_parent_seen_failing_within_its_interval_after_the_child_is_the_root_cause() -> None:
    # One shared outage: the child is probed first in the interval, the parent 30 s later.
    eng = engine(stack())
    feed(eng, "portal/tcp", "off", start=1)  # portal DOWN from 61
    effects = feed(eng, "network/tcp", "off", start=31)  # network DOWN from 91 (< 61 + 60)
    saved = [e.incident for e in of_type(effects, IncidentSaved) if e.incident.service == "portal"]
    assert [(i.root_cause, i.inhibited) for i in saved] == [("network", True)]
