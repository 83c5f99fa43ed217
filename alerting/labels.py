"""What an alert says: its labels (who it is about, its severity and team) and its annotations,
rendered from the rule's templates over plain views of the subject (never a spec or a secret).
"""

from __future__ import annotations

from typing import Any

from agent.catalog.model import Catalog, Service
from alerting.rules import Rule, render
from alerting.state import AlertState, Subject
from alerting.template_sandbox import check_view, service_view


class Labeller:
    def __init__(self, catalog: Catalog, console_url: str = "") -> None:
        self.catalog = catalog
        self.console_url = console_url.rstrip("/")

    def label(self, alert: AlertState, rule: Rule, subject: Subject) -> None:
        context = _context(alert, subject)
        labels = {"alertname": rule.name, "team": rule.team}
        if subject.service is not None:
            svc = subject.service
            labels |= {
                "service": svc.id,
                "tier": svc.tier,
                "macro_service": svc.macro_service,
                "pcn": str(svc.pcn).lower(),
            }
        if subject.check is not None:
            labels |= {"check": subject.check.id, "kind": subject.check.kind}
        if subject.node is not None:
            labels["node"] = subject.node
        labels["severity"] = self.severity(rule, subject.service)
        labels |= {k: render(v, context) for k, v in rule.labels.items()}
        alert.labels = labels
        alert.annotations = {k: render(v, context) for k, v in rule.annotations.items()}
        alert.annotations["console_url"] = self.link(subject)

    def severity(self, rule: Rule, service: Service | None) -> str:
        if rule.severity != "tier":
            return rule.severity
        tier = self.catalog.tiers.get(service.tier) if service else None
        return tier.severity if tier else "warning"

    def link(self, subject: Subject) -> str:
        if not self.console_url or subject.service is None:
            return self.console_url
        if subject.incident is not None:
            return f"{self.console_url}/incidents/{subject.incident.id}"
        return f"{self.console_url}/services/{subject.service.id}"


def _context(alert: AlertState, subject: Subject) -> dict[str, Any]:
    return {
        "service": service_view(subject.service),  # plain views: never a spec or a secret
        "check": check_view(subject.check),
        "status": subject.status,
        "incident": subject.incident,
        "values": alert.values,
    }
