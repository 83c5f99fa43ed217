"""The live status of services and checks, as the alert rules read it: the agent's engine
provides it (agent/engine/engine.py), and tests give an engine of their own."""

from __future__ import annotations

from typing import Protocol

from agent.records import Incident, ServiceStatus


class StatusSource(Protocol):
    def service_status(self, service: str) -> ServiceStatus:
        """The service's status now (every service of the catalogue has one)."""
        ...

    def open_incident(self, service: str) -> Incident | None:
        """The service's open incident, if it has one."""
        ...

    def failing_locations(self, check: str) -> tuple[str, ...]:
        """The locations where the check is hard DOWN while its verdict is not (semantics.md
        §8): none for a check probed at one location."""
        ...
