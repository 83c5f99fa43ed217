"""Rule templates cannot take the agent's memory or CPU, whatever a rules file holds.

Each hostile template is one that took the old sandbox to gigabytes or seconds; rendered in a
child process (tests/alerting/bounded_render_child.py) under an address-space limit, it must
come back quickly with a template error and the child's memory flat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alerting.rules import render
from alerting.template_bounds import (
    DEADLINE_SECONDS,
    BoundedSandbox,
    TemplateBoundError,
    deep_size,
    render_bounded,
)

CHILD = Path(__file__).with_name("bounded_render_child.py")
ROOT = Path(__file__).resolve().parents[2]

HOSTILE = {
    "doubling concatenation": "{% set s = namespace(v='x') %}{% for i in range(60) %}"
    "{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v|length }}",
    "padding filter": "{{ 'x'|center(300000000)|length }}",
    "percent width": "{{ ('%300000000s' % 'x')|length }}",
    "format width": "{{ '{:>300000000}'.format('x')|length }}",
    "format fan-out": "{{ ('{0}' * 3000).format('x' * 10000)|length }}",
    "nested repetition": "{{ ((('x' * 10000)|list) * 10000)|length }}",
    "aliased rows printed": "{{ ([('x' * 5000)|list] * 5000)|string|length }}",
    "replace blow-up": "{{ ('x' * 10000)|replace('x', 'x' * 10000)|length }}",
    "join separator": "{{ (range(1000)|list)|join('x' * 10000)|length }}",
    "indent blow-up": "{{ ('\\n' * 10000)|indent(10000)|length }}",
    "tabs": "{{ ('\\t' * 10000).expandtabs(10000)|length }}",
    "string loops": "{% for a in 'x' * 10000 %}{% for b in 'x' * 10000 %}{% endfor %}{% endfor %}",
    "macro fan-out": "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
    "{% endmacro %}{{ f(40) }}",
}


@pytest.fixture(scope="module")
def hostile_results() -> dict[str, dict[str, float | str]]:
    names = list(HOSTILE)
    done = subprocess.run(
        [sys.executable, str(CHILD), *(HOSTILE[name] for name in names)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, f"child died after {len(lines)} templates: {done.stderr[-2000:]}"
    return {name: json.loads(line) for name, line in zip(names, lines, strict=True)}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_template_is_refused_quickly_with_memory_flat(
    name: str, hostile_results: dict[str, dict[str, float | str]]
) -> None:
    result = hostile_results[name]
    assert str(result["out"]).startswith("<template error:"), result
    assert float(result["seconds"]) < 2.0, result
    assert float(result["grown_mib"]) < 64, result


def test_the_labels_rules_write_still_render() -> None:
    context = {"service": {"name": "SSD", "tier": "platina"}, "values": {"since": "03:12"}}
    template = (
        "{{ service.name }} ({{ service.tier|upper }}) em baixo desde {{ values.since }}: "
        "{{ [1, 2, 3]|join(', ') }} {{ 'a' ~ 'b' }} {{ '%s' % 'x' }} {{ '{} y'.format(3) }} "
        "{{ 'a,b'.split(',')|map('upper')|join('-') }} {{ range(3)|sum }}"
    )
    assert render(template, context) == "SSD (PLATINA) em baixo desde 03:12: 1, 2, 3 ab x 3 y A-B 3"


def test_the_sandbox_still_refuses_attribute_walks_through_format() -> None:
    assert render("{{ '{0.__class__}'.format(1) }}", {}).startswith("<template error:")


def test_templates_cannot_grow_a_collection_in_place() -> None:
    out = render("{% set x = [] %}{% for i in range(10) %}{{ x.append(x) }}{% endfor %}", {})
    assert out.startswith("<template error:")


def test_a_render_past_its_deadline_is_stopped() -> None:
    ticks = iter(range(10**6))

    def clock() -> float:  # each look at the clock is a second later
        return float(next(ticks))

    template = BoundedSandbox().from_string("{% for i in range(1000) %}{{ i }}{% endfor %}")
    with pytest.raises(TemplateBoundError, match=f"{DEADLINE_SECONDS} s deadline"):
        render_bounded(template, {}, clock=clock)
    assert render_bounded(template, {}).startswith("0123")


def test_deep_size_counts_what_is_nested_and_stops_early() -> None:
    row = ["ab"] * 3
    assert deep_size([row, row]) == 2 + 2 * (3 + 6)
    assert deep_size({"k": "vv"}) == 2 + 1 + 2
    assert 100 < deep_size([["x" * 1000]] * 10, limit=100) < 2000  # not all 10 rows
