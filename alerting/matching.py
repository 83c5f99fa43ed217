"""Which rules apply to which subject: a service's service rules, a check's check rules, by the
rules' filters (tiers, pcn, check kind, spec flags). Worked out once per rules or catalogue
change, not per result.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.catalog.model import Catalog, Check, Service
from alerting import conditions as cond
from alerting.rule_params import CheckParams
from alerting.rules import Rule


class RuleMatcher:
    def __init__(self, rules: Sequence[Rule], catalog: Catalog) -> None:
        self._rules = list(rules)
        self._catalog = catalog
        self._service_rules: dict[str, list[Rule]] = {}  # service -> its service rules
        self._check_rules: dict[str, list[Rule]] = {}  # check -> its check rules
        self._service_keys: dict[str, tuple[str, ...]] = {}  # service -> its alert ids

    @property
    def rules(self) -> list[Rule]:
        return self._rules

    @rules.setter
    def rules(self, rules: Sequence[Rule]) -> None:
        self._rules = list(rules)
        self._forget()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._forget()

    def _forget(self) -> None:
        self._service_rules, self._check_rules, self._service_keys = {}, {}, {}

    def alert_ids_of_service(self, service: Service) -> tuple[str, ...]:
        keys = self._service_keys.get(service.id)
        if keys is None:
            rules = self.of_service(service)
            keys = self._service_keys[service.id] = tuple(f"{r.name}/{service.id}" for r in rules)
        return keys

    def of_service(self, service: Service) -> list[Rule]:
        rules = self._service_rules.get(service.id)
        if rules is None:
            rules = self._service_rules[service.id] = [
                r for r in self._rules if r.when in cond.SERVICE and service_matches(r, service)
            ]
        return rules

    def of_check(self, check: Check, service: Service) -> list[Rule]:
        rules = self._check_rules.get(check.id)
        if rules is None:
            rules = self._check_rules[check.id] = [
                r
                for r in self._rules
                if r.when in cond.CHECK and service_matches(r, service) and check_matches(r, check)
            ]
        return rules

    def of_kinds(self, kinds: set[str]) -> list[Rule]:
        """The agent's or the cluster's rules (no subject to filter them by)."""
        return [r for r in self._rules if r.when in kinds]


def check_matches(rule: Rule, check: Check) -> bool:
    """Check rules may filter on `kind` and on spec flags such as `static: true`."""
    params = rule.params
    if not isinstance(params, CheckParams):
        return False  # not a check rule
    if params.kind and check.kind not in params.kind:
        return False
    flag = params.spec_flag
    return not flag or bool(getattr(check.spec, flag, False))


def service_matches(rule: Rule, service: Service) -> bool:
    if rule.tiers is not None and service.tier not in rule.tiers:
        return False
    return rule.pcn is None or service.pcn == rule.pcn
