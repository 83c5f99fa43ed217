"""The engine: hard states, service timelines, incidents, flapping (semantics.md §2-§5)."""

from agent.engine.engine import Engine

__all__ = ["Engine"]
