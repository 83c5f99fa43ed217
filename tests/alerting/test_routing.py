"""Routing per team and severity, and the `alerting:` settings with path-and-line errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from alerting.receivers.alertmanager import AlertmanagerReceiver
from alerting.receivers.email import EmailReceiver
from alerting.receivers.factory import build_receivers
from alerting.receivers.syslog import SyslogReceiver
from alerting.receivers.webhook import WebhookReceiver
from alerting.routing import AlertingConfig, Router
from checks.yamlsource import parse
from tests.alerting.servers import notification

RECEIVERS: list[dict[str, Any]] = [
    {"name": "cco-am", "type": "alertmanager", "urls": ["http://am1:9093", "http://am2:9093/"]},
    {"name": "soc-siem", "type": "syslog", "host": "siem.example", "protocol": "tcp"},
    {
        "name": "cco-mail",
        "type": "email",
        "host": "smtp.example",
        "from": "vigia@example.pt",
        "to": ["cco@example.pt"],
    },
    {"name": "soc-hook", "type": "webhook", "url": "https://soar.example/hook", "secret": "k"},
]


def _router(routes: list[dict[str, Any]]) -> Router:
    return Router(AlertingConfig.model_validate({"receivers": RECEIVERS, "routes": routes}))


def test_first_matching_route_wins() -> None:
    router = _router(
        [
            {"team": "cco", "severity": ["critical"], "receivers": ["cco-mail"]},
            {"team": "cco", "receivers": ["soc-hook"]},
        ]
    )
    assert router.receivers_for(notification(severity="critical")) == ["cco-mail"]
    assert router.receivers_for(notification(severity="warning")) == ["soc-hook"]


def test_continue_keeps_looking_and_collects_every_match_once() -> None:
    router = _router(
        [
            {"team": "soc", "receivers": ["soc-siem"], "continue": True},
            {"team": "*", "severity": "*", "receivers": ["soc-hook", "soc-siem"]},
            {"team": "*", "receivers": ["cco-mail"]},
        ]
    )
    assert router.receivers_for(notification(team="soc")) == ["soc-siem", "soc-hook"]
    assert router.receivers_for(notification(team="cco")) == ["soc-hook", "soc-siem"]


def test_a_notification_no_route_matches_goes_nowhere() -> None:
    router = _router([{"team": "soc", "receivers": ["soc-siem"]}])
    assert router.receivers_for(notification(team="cco")) == []
    assert router.route([notification(team="cco")]) == [(notification(team="cco"), [])]


def test_each_alertmanager_url_is_its_own_outbox_receiver() -> None:
    router = _router([{"team": "cco", "receivers": ["cco-am"]}])
    assert router.receivers_for(notification()) == ["cco-am#0", "cco-am#1"]


def test_resends_go_to_alertmanager_receivers_only() -> None:
    router = _router([{"team": "*", "receivers": ["cco-mail", "cco-am", "soc-siem"]}])
    assert router.receivers_for(notification(), resend=True) == ["cco-am#0", "cco-am#1"]
    assert router.route([notification()], resend=True) == [
        (notification(), ["cco-am#0", "cco-am#1"])
    ]
    assert len(router.receivers_for(notification())) == 4


async def test_factory_builds_one_receiver_per_outbox_name() -> None:
    config = AlertingConfig.model_validate({"receivers": RECEIVERS})
    receivers = build_receivers(config)
    try:
        kinds = {name: type(r) for name, r in receivers.items()}
        assert kinds == {
            "cco-am#0": AlertmanagerReceiver,
            "cco-am#1": AlertmanagerReceiver,
            "soc-siem": SyslogReceiver,
            "cco-mail": EmailReceiver,
            "soc-hook": WebhookReceiver,
        }
        am = receivers["cco-am#1"]
        assert isinstance(am, AlertmanagerReceiver)
        assert am.url == "http://am2:9093/api/v2/alerts"
        assert all(r.name == name for name, r in receivers.items())
    finally:
        for receiver in receivers.values():
            await receiver.aclose()


class _Settings(BaseModel):  # how the agent settings nest the alerting section
    alerting: AlertingConfig = AlertingConfig()


def _problems(text: str) -> list[str]:
    source = parse(text, "vigia.yaml", {"SMTP_PASSWORD": "hunter2"})
    with pytest.raises(ValidationError) as caught:
        _Settings.model_validate(source.data)
    source.add_validation_errors(caught.value)
    return [str(p) for p in source.problems]


def test_a_bad_receiver_option_is_reported_with_its_path_and_the_receivers_line() -> None:
    # pydantic puts the receiver type in the path (the union's tag); the line is the item's
    problems = _problems(
        """alerting:
  receivers:
    - name: siem
      type: syslog
      host: siem.example
      protocol: sctp
    - name: hook
      type: webhook
      url: htp://x
"""
    )
    assert problems == [
        "alerting.receivers[0].syslog.protocol: 'sctp': input should be 'udp' or 'tcp'"
        " (vigia.yaml:3)",
        "alerting.receivers[1].webhook.url: 'htp://x' is not an http(s) URL (vigia.yaml:7)",
    ]


def test_a_route_to_an_unknown_receiver_names_the_route() -> None:
    (problem,) = _problems(
        """alerting:
  receivers: [{name: siem, type: syslog, host: h}]
  routes:
    - {team: soc, receivers: [siem, sime]}
"""
    )
    assert "routes[0].receivers[1]: 'sime' is not a configured receiver (known: siem)" in problem
    assert problem.startswith("alerting: ") and problem.endswith("(vigia.yaml:1)")


def test_an_unknown_team_and_a_duplicate_name_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"routes\.0\.team"):
        AlertingConfig.model_validate({"routes": [{"team": "noc", "receivers": ["x"]}]})
    twice = [RECEIVERS[1], RECEIVERS[1]]
    with pytest.raises(ValidationError, match="name 'soc-siem' is used more than once"):
        AlertingConfig.model_validate({"receivers": twice})


def test_a_secret_in_a_refused_value_is_masked() -> None:
    (problem,) = _problems(
        """alerting:
  receivers:
    - {name: m, type: email, host: h, from: v@x.pt, to: [a@x.pt], password: "${SMTP_PASSWORD}",
       port: "${SMTP_PASSWORD}"}
"""
    )
    assert "hunter2" not in problem and "alerting.receivers[0].email.port" in problem
