"""Options of a scenario check: its steps (http requests with names and captures) in order
(checks/scenario.py)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator, model_validator

from checks.http_spec import HttpSpec
from checks.spec_types import Spec, compilable

_STEP_NAME = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"
_CAPTURE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # {{name}}


class Capture(Spec):
    """A value a scenario step takes from its answer for the steps after it: a header (or a
    group of a regex on it), a group of a regex on the body, or a JSON path's value."""

    header: str | None = None
    json_: str | None = Field(default=None, alias="json")
    body_regex: str | None = None
    regex: str | None = None  # on the header: its first group (or the whole match) is taken

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("body_regex", "regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return compilable(value)

    @field_validator("json_")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$"):
            raise ValueError(f"{value!r} is not a JSON path (start it with '$')")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        sources = [s for s in (self.header, self.json_, self.body_regex) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of header, json or body_regex")
        if self.regex is not None and self.header is None:
            raise ValueError("regex applies to a header: use body_regex for the body")
        return self

    @property
    def reads_body(self) -> bool:
        return self.header is None


class ScenarioStep(HttpSpec):
    """One request of a scenario: an http check's options, a name, what it captures. Its url
    (path and query), headers and body may use `{{name}}` for a value an earlier step
    captured."""

    name: str = Field(pattern=_STEP_NAME, max_length=64)
    capture: dict[Annotated[str, Field(pattern=_CAPTURE_NAME)], Capture] = Field(
        default_factory=dict
    )

    def placeholders(self) -> list[tuple[str, str]]:
        """(field, name) of every `{{name}}` the step uses."""
        texts = [("url", self.url), ("body", self.body or "")]
        texts += [(f"headers.{k}", v) for k, v in self.headers.items()]
        return [(where, m.group(1)) for where, text in texts for m in PLACEHOLDER.finditer(text)]


class ScenarioSpec(Spec):
    """Ordered requests sharing a cookie jar and captured values; fails at the first failing
    step (checks/scenario.py)."""

    steps: list[ScenarioStep] = Field(min_length=1, max_length=20)

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(path under the spec, message) of each duplicate step name and each `{{name}}` no
        earlier step captures; the catalogue reports them with their lines."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        names: set[str] = set()
        captured: set[str] = set()
        for position, step in enumerate(self.steps):
            if step.name in names:
                found.append((("steps", position, "name"), f"duplicate step name {step.name!r}"))
            names.add(step.name)
            for where, name in step.placeholders():
                if name in captured:
                    continue
                path: tuple[str | int, ...] = ("steps", position, *where.split(".", 1))
                found.append((path, f"{{{{{name}}}}} is not captured by an earlier step"))
            captured.update(step.capture)
        return found
