"""The receiver contract: deliver a batch, or say whether a failure is transient or permanent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from alerting.notification import Notification


class Receiver(Protocol):
    name: str  # unique in the configuration, e.g. "cco-alertmanager"

    async def send(self, notifications: Sequence[Notification]) -> None:
        """Deliver all of them or raise TransientDeliveryError / PermanentDeliveryError."""
        ...

    async def aclose(self) -> None: ...
