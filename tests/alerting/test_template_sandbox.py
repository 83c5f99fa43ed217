"""Rule templates see plain views of their subject and cannot take the agent's CPU or memory."""

from __future__ import annotations

import time

from agent.catalog.loader import load_text
from alerting.rules import render
from alerting.template_sandbox import MAX_OUTPUT, check_view, service_view
from tests.catalog.example import edited

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
