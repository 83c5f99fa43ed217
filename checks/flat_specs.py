"""Options of the kinds whose options are a few flat fields: icmp, heartbeat, nagios, host."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from checks.durations import Duration
from checks.spec_types import Spec


class IcmpSpec(Spec):
    host: str
    count: int = Field(default=3, ge=1, le=20)
    interval: Duration = 0.2
    max_loss_ratio: float = Field(default=0.0, ge=0, le=1)  # above: degraded; all lost: fail
    max_rtt: Duration | None = None  # above: degraded
    privileged: bool = False


class HeartbeatSpec(Spec):
    max_silence: Duration
    token: SecretStr | None = None


class NagiosSpec(Spec):
    command: list[str] = Field(min_length=1, repr=False)  # argv, never a shell; may hold secrets
    env: dict[str, str] = Field(default_factory=dict, repr=False)


class HostSpec(Spec):
    resource: Literal["cpu", "memory", "disk", "process", "port"]
    warn_percent: float | None = Field(default=None, ge=0, le=100)  # above: degraded
    crit_percent: float | None = Field(default=None, ge=0, le=100)  # above: fail
    path: str = "/"  # disk
    process: str | None = None  # process name
    port: int | None = Field(default=None, ge=1, le=65535)  # a local port listening

    @model_validator(mode="after")
    def _needs(self) -> HostSpec:
        if self.resource == "process" and not self.process:
            raise ValueError("resource 'process' needs 'process' (the process name)")
        if self.resource == "port" and self.port is None:
            raise ValueError("resource 'port' needs 'port'")
        return self
