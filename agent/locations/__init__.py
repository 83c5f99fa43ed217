"""Probing from several locations: the wire between probe workers and the core (semantics.md §8)."""
