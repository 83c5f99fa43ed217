"""The console and the shared operations stand beside the API, not on it: neither reaches a
module of agent.api, nor the runtime or the server, through any chain of imports
(`TYPE_CHECKING` ones included). The console finds what it shares with the API in
agent.operations and who is asking in agent.access.
"""

from __future__ import annotations

from tests.agent.test_import_cycles import import_graph

FORBIDDEN = ("agent.api", "agent.runtime", "agent.server")


def _package(graph: dict[str, set[str]], name: str) -> list[str]:
    return sorted(m for m in graph if m == name or m.startswith(f"{name}."))


def _reached(graph: dict[str, set[str]], starts: list[str]) -> dict[str, str]:
    """Every module reachable from `starts`, with the module that first imports it."""
    via: dict[str, str] = {}
    todo = list(starts)
    while todo:
        module = todo.pop()
        for target in sorted(graph[module]):
            if target not in via:
                via[target] = module
                todo.append(target)
    return via


def _forbidden(graph: dict[str, set[str]], package: str) -> dict[str, str]:
    via = _reached(graph, _package(graph, package))
    return {m: by for m, by in via.items() if m.startswith(FORBIDDEN)}


def test_the_console_reaches_nothing_of_the_api() -> None:
    graph = import_graph()
    assert "agent.console.pages" in graph
    assert _forbidden(graph, "agent.console") == {}


def test_the_shared_operations_reach_neither_the_api_nor_the_console() -> None:
    graph = import_graph()
    operations = _package(graph, "agent.operations")
    assert "agent.operations.alerts" in operations
    via = _reached(graph, operations)
    assert {m: by for m, by in via.items() if m.startswith((*FORBIDDEN, "agent.console"))} == {}


def test_the_check_names_the_module_that_imports_the_api() -> None:
    """The checker itself: an import of agent.api two steps away is found, with its importer."""
    graph = {
        "agent.console": set(),
        "agent.console.pages": {"agent.operations.x"},
        "agent.operations.x": {"agent.api.alerts"},
        "agent.api.alerts": set(),
    }
    assert _forbidden(graph, "agent.console") == {"agent.api.alerts": "agent.operations.x"}
