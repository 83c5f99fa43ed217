"""alerting stands below the agent: of `agent` it imports only the records it judges, the
catalogue model it matches rules on, and the store's column types its tables are made of,
each a module that imports nothing else of `agent`. What else it needs of the agent (the
database, this node's partitions and their fence, the live status of services) it names as
protocols of its own, which the agent provides (agent/parts.py). Every import counts: at
module level, inside a function and under `TYPE_CHECKING`.
"""

from __future__ import annotations

import subprocess
import sys

from tests.agent.test_import_cycles import ROOT, import_graph
from tests.agent.test_view_imports import _package, _reached

ALLOWED = frozenset(
    {
        "agent.records",  # what the engine decided: results' effects, statuses, incidents
        "agent.catalog.model",  # the services and checks rules apply to
        "agent.store.columns",  # the column types of alerting's tables (UTC microseconds)
        "agent.store.cleaning",  # ... and the ones that keep NUL bytes out of the database
    }
)


def _agent_reached(graph: dict[str, set[str]]) -> dict[str, str]:
    """Every module of `agent` reachable from alerting, with the module that imports it."""
    via = _reached(graph, _package(graph, "alerting"))
    return {m: by for m, by in via.items() if m == "agent" or m.startswith("agent.")}


def test_alerting_reaches_only_the_allowed_modules_of_the_agent() -> None:
    graph = import_graph()
    assert "alerting.service" in graph and "alerting.rule_file" in graph
    reached = _agent_reached(graph)
    assert {m: by for m, by in reached.items() if m not in ALLOWED} == {}


def test_importing_every_alerting_module_loads_no_other_agent_module() -> None:
    """The same at run time: what Python actually loads (the packages' empty `__init__`s of
    the allowed modules aside)."""
    modules = sorted(_package(import_graph(), "alerting"))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(m for m in sys.modules if m == 'agent' or m.startswith('agent.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    parents = {"agent", "agent.store", "agent.catalog"}
    assert loaded - parents == ALLOWED


def test_the_check_names_the_module_that_reaches_further_into_the_agent() -> None:
    """The checker itself: an allowed module importing the store is caught, with its importer."""
    graph = {
        "alerting": set(),
        "alerting.service": {"agent.records", "checks.clock"},
        "checks.clock": set(),
        "agent.records": {"agent.store.sql"},
        "agent.store.sql": set(),
    }
    assert _agent_reached(graph) == {
        "agent.records": "alerting.service",
        "agent.store.sql": "agent.records",
    }
