"""Errors of the catalogue, each naming the YAML path, the value, the file and the line."""

from __future__ import annotations

from checks.problem import Problem as Problem  # the catalogue's problems are YAML problems


class CatalogError(Exception):
    """The catalogue is invalid; `problems` lists every mistake found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
