"""The evaluator's parts that replaced what alerting used to import from the engine: the flap
history's comparison key (instead of padding to the engine's HISTORY) and a service's parents
(instead of agent.engine.dependencies.ancestors) tell apart exactly what the engine's did."""

from __future__ import annotations

import itertools

from agent.engine.dependencies import ancestors
from agent.engine.flapping import HISTORY
from alerting.evaluator import _collapsed
from alerting.suppression import parents
from tests.engine.builders import catalog, service


def _padded(history: tuple[str, ...]) -> tuple[str, ...]:
    """What the evaluator compared before: the history padded with its first state."""
    return (*history[:1] * (HISTORY - len(history)), *history)


def test_collapsed_histories_are_equal_exactly_when_padded_ones_are() -> None:
    short = [h for n in range(7) for h in itertools.product("ud", repeat=n)]
    full = [("u",) * (HISTORY - 2) + tail for tail in itertools.product("ud", repeat=2)]
    histories = short + full
    for a, b in itertools.product(histories, repeat=2):
        assert (_collapsed(a) == _collapsed(b)) == (_padded(a) == _padded(b)), (a, b)


def test_parents_are_the_engines_ancestors() -> None:
    cat = catalog(
        service("core"),
        service("db", depends_on=["core"]),
        service("api", depends_on=["db", "core"]),
        service("web", depends_on=["api", "ghost"]),
        service("loop_a", depends_on=["loop_b"]),
        service("loop_b", depends_on=["loop_a"]),
    )
    for sid in cat.by_id:
        assert parents(cat.by_id, sid) == set(ancestors(cat.by_id, sid)), sid
