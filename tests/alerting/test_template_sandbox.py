"""Rule templates see plain views of their subject and cannot take the agent's CPU or memory."""

from __future__ import annotations

import time
from dataclasses import replace

from pydantic import SecretStr

from agent.catalog.loader import load_text
from alerting.rules import render
from alerting.template_bounds import MAX_OUTPUT
from alerting.template_sandbox import check_view, service_view
from checks.specs import HttpAuth, HttpSpec
from tests.alerting.test_evaluator import Harness, with_tiers
from tests.catalog.example import edited
from tests.engine.builders import catalog, check, service

SECRET = "t0ken-Muito-secreto"


def _context() -> dict[str, object]:
    text = edited("max_latency: 2s", 'max_latency: 2s\n          auth: {bearer: "${TOKEN}"}')
    service = load_text(text, environ={"TOKEN": SECRET}).by_id["ssd"]
    return {"service": service_view(service), "check": check_view(service.checks[0])}


def test_templates_cannot_reach_a_check_spec_or_its_secret() -> None:
    context = _context()
    for template in (
        "{{ check.spec }}",
        "{{ check.spec.auth.bearer.get_secret_value() }}",
        "{{ service.checks[0].spec }}",
        "{{ check }}{{ service }}",
        "{{ check.__class__.__mro__ }}",
    ):
        assert SECRET not in render(template, context)
    for unreachable in ("check.spec.auth", "check.spec.headers", "check.spec.get_secret_value"):
        assert render("{{ " + unreachable + " }}", context).startswith("<template error:")
    assert render("{{ check.name }} {{ service.name }}", context).strip()


def test_huge_range_repetition_and_power_are_refused_quickly() -> None:
    started = time.monotonic()
    for template in (
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ 10 ** 10 ** 10 }}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}",
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
    ):
        out = render(template, {})
        assert len(out) <= MAX_OUTPUT + 1, template
    assert time.monotonic() - started < 2.0
    assert render("{% for i in range(10**9) %}x{% endfor %}", {}).startswith("<template error:")


def test_evaluator_templates_see_no_spec_secret_of_the_service_or_check() -> None:
    spec = HttpSpec(url="https://svc.example/", auth=HttpAuth(bearer=SecretStr(SECRET)))
    probe = replace(check("svc", "http"), kind="http", spec=spec)
    leak = "{{ service.checks[0].spec.auth.bearer.get_secret_value() }}"
    rules = (
        "version: 1\nrules:\n"
        "  - {name: Down, team: cco, when: service_state, params: {state: down},"
        f" annotations: {{summary: '{leak}'}}}}\n"
    )
    h = Harness(with_tiers(catalog(service("svc", probe))), rules_text=rules)
    h.feed(probe.id, "ffff")
    [sent] = [n for n in h.sent if n.labels["alertname"] == "Down"]
    assert SECRET not in sent.annotations["summary"]
