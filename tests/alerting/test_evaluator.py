"""Alert rule evaluation with an injected clock: no sleeping, the real engine underneath."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from agent.catalog.model import Catalog, Tier, Timing
from agent.engine import Engine
from agent.maintenance import MaintenanceCalendar
from agent.records import MaintenanceWindow
from alerting import conditions as cond
from alerting.errors import RulesError
from alerting.evaluator import AlertEvaluator
from alerting.notification import AlertStatus, Notification
from alerting.rule_file import load_rules, parse_rules
from alerting.rules import Rule
from checks.clock import ManualClock
from checks.result import Measurement, Outcome, ProbeResult
from checks.specs import TlsSpec
from tests.engine.builders import T0, at, catalog, check, service

TIMING = Timing(interval=60, timeout=10, confirm_down=3, confirm_up=2)
TIERS = {"platina": Tier("platina", TIMING, "critical", 0, 20, 5)}
LETTERS = {"o": Outcome.OK, "d": Outcome.DEGRADED, "f": Outcome.FAIL, "u": Outcome.UNKNOWN}


def with_tiers(cat: Catalog) -> Catalog:
    return Catalog(version=1, tiers=TIERS, services=cat.services)


@dataclass
class Harness:
    cat: Catalog
    windows: tuple[MaintenanceWindow, ...] = ()
    rules_text: str | None = None
    sent: list[Notification] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = ManualClock(T0)
        self.calendar = MaintenanceCalendar(self.cat, self.windows)
        self.engine = Engine(self.cat, self.calendar)
        rules = parse_rules(self.rules_text) if self.rules_text else load_rules()
        self.evaluator = AlertEvaluator(
            rules,
            self.cat,
            self.calendar,
            self.clock,
            self.engine,
            signals=lambda: {"store_write_errors": 0.0},
            console_url="http://cco.invalid",
        )

    def feed(
        self,
        check_id: str,
        plan: str,
        start: float = 0,
        step: float = 60,
        reason: str = "connection refused",
        measured: Mapping[str, Measurement] | None = None,
        **measurements: Measurement,
    ) -> None:
        """`measured`: measurements as a mapping, for a name chosen at run time."""
        measurements = {**(measured or {}), **measurements}
        for i, letter in enumerate(plan):
            moment = start + i * step
            self.clock.set(at(moment))
            result = ProbeResult(
                check_id,
                at(moment),
                0.5,
                LETTERS[letter],
                reason if letter == "f" else "",
                dict(measurements),
            )
            self.sent += self.evaluator.observe(result, self.engine.observe(result))

    def tick(self, seconds: float) -> None:
        self.clock.set(at(seconds))
        self.sent += self.evaluator.tick()

    def named(self, alertname: str) -> list[tuple[str, str]]:
        return [
            (n.status.value, n.labels.get("service", ""))
            for n in self.sent
            if n.labels["alertname"] == alertname
        ]


def test_the_shipped_rule_file_loads() -> None:
    names = {rule.name for rule in load_rules()}
    assert {"ServiceDown", "Watchdog", "CertificateChanged", "DnsAnswersChanged"} <= names


def test_rule_file_errors_name_path_and_line_all_at_once() -> None:
    text = (
        "version: 1\nrules:\n"
        "  - {name: A, team: cco, when: burn_rate, params: {long: 1h}}\n"
        "  - {name: B, team: ops, when: watchdog}\n"
        "  - {name: C, team: cco, when: agent, params: {signal: nope}}\n"
        "  - {name: D, team: cco, when: watchdog, annotations: {summary: '{{ oops'}}\n"
    )
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    message = str(caught.value)
    assert "rules[1].team: 'ops'" in message and "(rules.yaml:4)" in message
    assert "rules[3].annotations: Value" not in message and "template does not compile" in message
    with pytest.raises(RulesError) as second:
        parse_rules(text.replace("team: ops", "team: cco").replace("{{ oops", "ok"), "rules.yaml")
    assert "condition 'burn_rate' needs param 'short' (rules.yaml:3)" in str(second.value)
    assert "signal: 'nope' is not one of" in str(second.value)


def test_service_down_fires_once_on_the_cco_route_with_tier_severity_and_resolves() -> None:
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.feed("ssd/tcp", "offf" + "oo")
    assert h.named("ServiceDown") == [("firing", "ssd"), ("resolved", "ssd")]
    firing = next(n for n in h.sent if n.labels["alertname"] == "ServiceDown")
    assert (
        firing.labels.items() >= {"team": "cco", "severity": "critical", "tier": "platina"}.items()
    )
    assert firing.generator_url.startswith("http://cco.invalid/incidents/")
    resolved = next(n for n in h.sent if n.status is AlertStatus.RESOLVED)
    assert resolved.duration_seconds == 240 - 60  # the incident: first fail to first ok


def test_children_of_a_down_parent_are_inhibited_and_the_parent_gets_a_root_cause_alert() -> None:
    cat = with_tiers(catalog(service("auth"), service("ssd", depends_on=["auth"])))
    h = Harness(cat)
    h.feed("auth/tcp", "offf", start=0)
    h.feed("ssd/tcp", "offf", start=1)
    assert h.named("ServiceDown") == [("firing", "auth")]
    assert h.named("DependencyRootCause") == [("firing", "auth")]
    child = h.evaluator.alerts["ServiceDown/ssd"]
    assert child.state == "suppressed:inhibited"


def test_maintenance_silences_alerts_but_keeps_them_recorded() -> None:
    cat = with_tiers(catalog(service("ssd")))
    window = MaintenanceWindow(1, "ssd", at(0), at(3600), "upgrade", at(-86400))
    h = Harness(cat, windows=(window,))
    h.feed("ssd/tcp", "offf")
    assert h.named("ServiceDown") == []
    assert h.evaluator.alerts["ServiceDown/ssd"].state == "suppressed:maintenance"


def test_a_flapping_service_raises_one_flapping_alert_instead_of_a_storm() -> None:
    h = Harness(with_tiers(catalog(service("vis", check("vis", confirm_down=1, confirm_up=1)))))
    h.feed("vis/tcp", "of" * 12)
    assert h.named("ServiceFlapping") == [("firing", "vis")]
    downs = [s for s, _ in h.named("ServiceDown") if s == "firing"]
    assert len(downs) <= 2  # before flapping is detected; none once it is


def test_platinum_incident_open_longer_than_35_minutes_escalates() -> None:
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.feed("ssd/tcp", "offf")  # incident from t=60
    h.tick(60 + 35 * 60)
    assert h.named("PlatinumIncidentOverMeta") == []
    h.tick(60 + 35 * 60 + 30)
    [(status, svc)] = h.named("PlatinumIncidentOverMeta")
    assert (status, svc) == ("firing", "ssd")
    escalation = next(n for n in h.sent if n.labels["alertname"] == "PlatinumIncidentOverMeta")
    assert (
        escalation.labels["escalation"] == "true" and "35 min" in escalation.annotations["summary"]
    )


def test_for_duration_keeps_an_alert_pending_until_it_has_held() -> None:
    rules = (
        "version: 1\nrules:\n"
        "  - {name: Deg, team: cco, when: service_state, params: {state: degraded}, for: 5m}\n"
    )
    h = Harness(with_tiers(catalog(service("portal"))), rules_text=rules)
    h.feed("portal/tcp", "d", start=0)
    h.tick(4 * 60)
    assert h.named("Deg") == [] and h.evaluator.alerts["Deg/portal"].state == "pending"
    h.tick(5 * 60)
    assert h.named("Deg") == [("firing", "portal")]


def test_certificate_change_raises_a_soc_alert_held_for_an_hour() -> None:
    tls = check("web", "tls")
    tls = type(tls)(tls.id, tls.service, tls.name, "tls", TlsSpec(host="web.example"), tls.timing)
    h = Harness(with_tiers(catalog(service("web", tls))))
    h.feed("web/tls", "oo", fingerprint_sha256="aa" * 32, issuer="CN=Old CA", days_left=90)
    h.feed(
        "web/tls", "o", start=120, fingerprint_sha256="bb" * 32, issuer="CN=Old CA", days_left=90
    )
    changed = [n for n in h.sent if n.labels["alertname"] == "CertificateChanged"]
    assert [(n.status.value, n.labels["team"]) for n in changed] == [("firing", "soc")]
    h.tick(120 + 3599)
    assert h.named("CertificateChanged") == [("firing", "web")]
    h.tick(120 + 3601)
    assert h.named("CertificateChanged") == [("firing", "web"), ("resolved", "web")]


def test_watchdog_fires_while_the_agent_runs_and_acknowledgement_is_recorded() -> None:
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.tick(10)
    assert ("firing", "") in h.named("Watchdog")
    assert h.evaluator.acknowledge("Watchdog", "ana", "known", at(11))
    assert h.evaluator.alerts["Watchdog"].acked_by == "ana"
    assert not h.evaluator.acknowledge("Nope/x", "ana", "", at(11))


def test_fast_burn_needs_both_windows_over_the_factor() -> None:
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.feed("ssd/tcp", "offf")  # DOWN from t=60
    h.tick(60 + 8 * 60)  # 8 min down: 1h window 13.3 % / 1 % budget = 13.3x (< 14.4)
    assert h.named("ErrorBudgetBurnFast") == []
    h.tick(60 + 9 * 60)  # 9 min: 15x over 1h, 100 % over 5 min
    assert h.named("ErrorBudgetBurnFast") == [("firing", "ssd")]
    assert T0 + timedelta(minutes=10) == at(600)


def test_service_rules_are_evaluated_per_result_only_when_something_they_read_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    state = cond.SERVICE_CONDITIONS["service_state"]

    def counted(rule: Rule, view: cond.ServiceView) -> cond.Active:
        calls.append(view.service.id)
        return state(rule, view)

    monkeypatch.setitem(cond.SERVICE_CONDITIONS, "service_state", counted)
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.feed("ssd/tcp", "o")
    once = len(calls)
    h.feed("ssd/tcp", "ooo", start=60)  # the same status: no evaluation
    assert len(calls) == once
    h.feed("ssd/tcp", "fff", start=240)  # fail runs change the status; DOWN opens an incident
    assert h.named("ServiceDown") == [("firing", "ssd")]
    evaluated = len(calls)
    h.feed("ssd/tcp", "f", start=420)  # open incident: still evaluated (timed escalations)
    assert len(calls) == evaluated + once
    h.feed("ssd/tcp", "oo" + "ooo", start=480)
    assert h.named("ServiceDown") == [("firing", "ssd"), ("resolved", "ssd")]


def test_a_reload_recomputes_which_rules_apply() -> None:
    h = Harness(with_tiers(catalog(service("ssd"))))
    h.feed("ssd/tcp", "o")
    rules = (
        "version: 1\nrules:\n"
        "  - {name: Deg, team: cco, when: service_state, params: {state: degraded}}\n"
    )
    h.evaluator.reload(parse_rules(rules), h.cat)
    h.feed("ssd/tcp", "d", start=60)
    assert h.named("Deg") == [("firing", "ssd")]


def test_reminders_repeat_unacknowledged_alerts_and_an_acknowledgement_stops_them() -> None:
    h = Harness(with_tiers(catalog(service("a"), service("b"))))
    h.feed("a/tcp", "offf")
    h.feed("b/tcp", "offf")  # both DOWN, notified at t=180
    assert h.evaluator.acknowledge("ServiceDown/b", "rui", "a tratar", at(200))
    h.clock.set(at(180 + 3600))
    assert h.evaluator.reminders_due(4 * 3600) == []
    h.clock.set(at(180 + 4 * 3600))
    reminders = h.evaluator.reminders_due(4 * 3600)
    assert [(n.alert_id, n.extra) for n in reminders] == [("ServiceDown/a", {"reminder": "true"})]
    assert h.evaluator.reminders_due(4 * 3600) == []  # not again until another 4 h
    assert "ServiceDown/b" in h.evaluator.alerts  # acknowledged, still recorded


def test_a_child_seen_down_before_its_parent_waits_for_it_and_is_then_inhibited() -> None:
    cat = with_tiers(catalog(service("auth"), service("ssd", depends_on=["auth"])))
    h = Harness(cat)
    h.feed("ssd/tcp", "offf", start=0)  # child confirmed DOWN at t=180 ...
    assert h.named("ServiceDown") == []  # ... but waits up to 3 x 60 s for its parent
    assert h.evaluator.alerts["ServiceDown/ssd"].state == "suppressed:awaiting-parents"
    h.feed("auth/tcp", "offf", start=30)  # the parent, probed 30 s later, confirms at t=210
    assert h.named("ServiceDown") == [("firing", "auth")]
    assert h.evaluator.alerts["ServiceDown/ssd"].state == "suppressed:inhibited"


def test_a_child_whose_parents_stay_up_alerts_once_the_wait_is_over() -> None:
    cat = with_tiers(catalog(service("auth"), service("ssd", depends_on=["auth"])))
    h = Harness(cat)
    h.feed("auth/tcp", "oooo", start=30)
    h.feed("ssd/tcp", "offf", start=0)  # DOWN confirmed at t=180, alert active from then
    h.tick(180 + 179)
    assert h.named("ServiceDown") == []
    h.tick(180 + 180)
    assert h.named("ServiceDown") == [("firing", "ssd")]


def test_each_new_notification_of_an_alert_takes_the_next_sequence_and_a_resend_does_not() -> None:
    """The sequence makes each notification's idempotency key: a reminder and the resolution
    are new notifications; the Alertmanager resend repeats the last one; a later outage of the
    same alert starts again, under another key (another start)."""
    h = Harness(with_tiers(catalog(service("svc"))))
    h.feed("svc/tcp", "fff")
    (fired,) = [n for n in h.sent if n.labels["alertname"] == "ServiceDown"]
    h.clock.set(at(4 * 3600 + 180))
    (reminder,) = h.evaluator.reminders_due(4 * 3600)
    (resent,) = [n for n in h.evaluator.firing_notifications() if n.alert_id == fired.alert_id]
    h.feed("svc/tcp", "oo", start=4 * 3600 + 240)
    h.feed("svc/tcp", "fff", start=5 * 3600)
    down = [n for n in h.sent if n.labels["alertname"] == "ServiceDown"]
    assert [(n.status.value, n.sequence) for n in down] == [
        ("firing", 1),
        ("resolved", 3),
        ("firing", 1),
    ]
    assert (reminder.sequence, resent.sequence) == (2, 2)
    keys = {n.idempotency_key for n in [*down, reminder]}
    assert len(keys) == 4 and resent.idempotency_key == reminder.idempotency_key
