"""Options of a tcp check: a connection, optionally TLS or STARTTLS, and a banner or a dialogue
of steps (checks/tcp.py, checks/dialogue.py)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from checks.durations import Duration
from checks.spec_types import AddressFamily, Spec, StartTls, compilable

_CAPTURE = re.compile(r"\$\{(\d+)\}")  # `${1}` in a send; `${NAME}` is a secret (yamlsource)


class DialogueStep(Spec):
    """One step of a tcp dialogue: wait for a line matching `expect`, then `send` (which may
    use the match's groups as `${1}`, `${0}` the whole match), then upgrade to TLS."""

    expect: str | None = None  # a regex, tried on each line received (checks/dialogue.py)
    send: str | None = Field(default=None, repr=False)  # sent as written; may carry a secret
    starttls: bool = False  # after this step's send: the TLS handshake on this connection
    timeout: Duration | None = None  # this step's own limit; default: the check's step_timeout

    @field_validator("expect")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return compilable(value)

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a step timeout must be above 0")
        return value

    @model_validator(mode="after")
    def _does_something(self) -> DialogueStep:
        if self.expect is None and self.send is None and not self.starttls:
            raise ValueError("a step needs expect, send or starttls")
        return self


class TcpSpec(AddressFamily):
    host: str
    port: int = Field(ge=1, le=65535)
    send: str | None = Field(default=None, repr=False)  # may carry a secret
    expect: str | None = None  # substring of the banner/answer
    steps: list[DialogueStep] = Field(default_factory=list, max_length=64)
    step_timeout: Duration | None = None  # each step's limit, within the check's timeout
    tls: bool = False  # TLS from the first byte
    starttls: StartTls | None = None  # the protocol's STARTTLS exchange, then TLS
    server_name: str | None = None  # SNI and the name the certificate must match; default host
    ca_bundle: str | None = None
    verify: bool = True  # false: any certificate (still read and reported)

    @field_validator("step_timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("step_timeout must be above 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TcpSpec:
        if self.steps and (self.send is not None or self.expect is not None):
            raise ValueError("give either send/expect or steps, not both")
        if self.tls and self.starttls:
            raise ValueError("give either tls: true (TLS from the start) or starttls, not both")
        upgrades = self.tls or self.starttls or any(step.starttls for step in self.steps)
        given = [k for k in ("server_name", "ca_bundle") if getattr(self, k) is not None]
        if not self.verify:
            given.append("verify")
        if given and not upgrades:
            needs = "only with tls: true, starttls or a starttls step"
            raise ValueError(f"{', '.join(given)}: {needs}")
        if (self.tls or self.starttls) and any(step.starttls for step in self.steps):
            raise ValueError("a starttls step on a connection that is already TLS")
        _check_captures(self.steps)
        return self

    def family_target(self) -> str | None:
        return self.host


def _check_captures(steps: list[DialogueStep]) -> None:
    """A `${N}` in a send must name a group of the latest expect before it (or its own)."""
    groups: int | None = None
    for index, step in enumerate(steps):
        if step.expect is not None:
            groups = re.compile(step.expect).groups
        for wanted in _CAPTURE.findall(step.send or ""):
            where = f"steps[{index}].send uses ${{{wanted}}}"
            if groups is None:
                raise ValueError(f"{where} but no step before it has an expect")
            if int(wanted) > groups:
                raise ValueError(f"{where} but the latest expect has {groups} group(s)")
