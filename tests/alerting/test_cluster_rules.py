"""ClusterNodeDown and PartitionUnowned (semantics.md §9) through the evaluator: one alert per
silent node, named by a `node` label; one alert for the unowned partitions; judged only where
the `cluster_judge` signal is (the holder of partition 0), so each fires once in a cluster."""

from __future__ import annotations

from alerting import conditions as cond
from alerting.notification import Notification
from alerting.rule_file import load_rules
from tests.alerting.test_evaluator import Harness, with_tiers
from tests.engine.builders import catalog, service

JUDGE = {cond.CLUSTER_JUDGE: 1.0, cond.CLUSTER_LEASE: 15.0}


def harness() -> Harness:
    return Harness(with_tiers(catalog(service("svc"))))


def cluster_sent(h: Harness) -> list[Notification]:
    names = {"ClusterNodeDown", "PartitionUnowned"}
    return [n for n in h.sent if n.labels["alertname"] in names]


def test_the_shipped_rules_are_the_ccos() -> None:
    rules = {r.name: r for r in load_rules()}
    assert rules["ClusterNodeDown"].when == "cluster_node_down"
    assert rules["PartitionUnowned"].when == "partition_unowned"
    assert {rules[n].team for n in ("ClusterNodeDown", "PartitionUnowned")} == {"cco"}


def test_a_silent_node_fires_once_with_its_name_as_a_label_and_resolves_when_back() -> None:
    h = harness()
    signals = JUDGE | {"cluster_nodes_down": 1.0, "cluster_node_down:node-b": 1.0}
    h.evaluator.signals = lambda: signals
    h.tick(10)
    h.tick(20)  # still down: no second notification
    (fired,) = cluster_sent(h)
    assert fired.status.value == "firing" and fired.alert_id == "ClusterNodeDown@node-b"
    assert fired.labels["node"] == "node-b" and fired.labels["severity"] == "major"
    assert "node-b" in fired.annotations["summary"] and "15.0 s" in fired.annotations["summary"]
    assert "service" not in fired.labels
    h.evaluator.signals = lambda: JUDGE | {"cluster_nodes_down": 0.0}
    h.tick(30)
    assert [(n.status.value, n.labels["node"]) for n in cluster_sent(h)] == [
        ("firing", "node-b"),
        ("resolved", "node-b"),
    ]


def test_two_silent_nodes_are_two_alerts() -> None:
    h = harness()
    down = {"cluster_node_down:a": 1.0, "cluster_node_down:b": 1.0}
    h.evaluator.signals = lambda: JUDGE | down
    h.tick(10)
    assert sorted(n.labels["node"] for n in cluster_sent(h)) == ["a", "b"]


def test_no_node_label_on_any_other_alert() -> None:
    h = harness()
    h.evaluator.signals = lambda: JUDGE | {"agent_unhealthy": 1.0, "partition_unowned:3": 1.0}
    h.feed("svc/tcp", "fff")
    h.tick(300)
    assert h.sent and all(
        "node" not in n.labels for n in h.sent if n.labels["alertname"] != "ClusterNodeDown"
    )


def test_a_node_that_does_not_judge_fires_nothing_whatever_it_is_told() -> None:
    h = harness()
    h.evaluator.signals = lambda: {"cluster_node_down:node-b": 1.0, "partition_unowned:3": 1.0}
    h.tick(10)
    assert cluster_sent(h) == []


def test_unowned_partitions_are_one_alert_listing_them() -> None:
    h = harness()
    unowned = {"partitions_unowned": 2.0, "partition_unowned:3": 1.0, "partition_unowned:12": 1.0}
    h.evaluator.signals = lambda: JUDGE | unowned
    h.tick(10)
    (fired,) = cluster_sent(h)
    assert fired.alert_id == "PartitionUnowned@partitions"
    assert fired.labels["severity"] == "critical" and "node" not in fired.labels
    assert "3, 12" in fired.annotations["summary"]
    h.evaluator.signals = lambda: dict(JUDGE)
    h.tick(20)
    assert [n.status.value for n in cluster_sent(h)] == ["firing", "resolved"]


def test_handing_the_judging_over_drops_the_alerts_without_resolving_them() -> None:
    h = harness()
    h.evaluator.signals = lambda: JUDGE | {"cluster_node_down:node-b": 1.0}
    h.tick(10)
    assert "ClusterNodeDown@node-b" in h.evaluator.alerts
    h.evaluator.forget_cluster()
    h.evaluator.signals = dict
    h.tick(20)
    assert [n.status.value for n in cluster_sent(h)] == ["firing"]
    assert "ClusterNodeDown@node-b" not in h.evaluator.alerts


def test_cluster_alert_ids_are_told_from_service_alert_ids() -> None:
    assert cond.is_cluster_alert("ClusterNodeDown@host:8080")
    assert cond.is_cluster_alert("ClusterNodeDown@odd/name")
    assert not cond.is_cluster_alert("ServiceDown/svc@x")
    assert not cond.is_cluster_alert("AgentUnhealthy")
