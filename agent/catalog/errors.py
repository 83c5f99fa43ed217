"""Errors of the catalogue, each naming the YAML path, the value, the file and the line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # e.g. services[4].checks[0].http.url
    message: str  # e.g. 'htp://x' is not an http(s) URL
    file: str
    line: int | None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = f"{self.path}: " if self.path else ""
        return f"{prefix}{self.message} ({where})"


class CatalogError(Exception):
    """The catalogue is invalid; `problems` lists every mistake found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
