"""Errors of the alerting package. Receivers classify every delivery failure."""

from __future__ import annotations


class AlertingError(Exception):
    """Base of every alerting error."""


class DeliveryError(AlertingError):
    """A notification could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying with backoff: receiver down, timeout, 5xx, 429, connection refused."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: 4xx other than 408/429, bad address, authentication refused.
    The outbox stops retrying that notification and raises an agent-health alert."""


class RulesError(AlertingError):
    """The rule file is invalid; the message lists every problem with path and line."""
