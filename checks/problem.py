"""A mistake in a YAML file (the catalogue, settings, alert rules), with its path and line."""

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
