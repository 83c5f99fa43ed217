"""The domain errors of the shared operations, each with the sentence the user needs (the id
that was not found, the allowed range, the state that forbids the act).

They name no HTTP status: the API maps each class to one (agent/api/errors.py), the console to
one of its pages.
"""

from __future__ import annotations


class OperationError(Exception):
    """An operation refused; `message` is shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(OperationError):
    """The thing named (an incident, an active alert, an archived report) does not exist."""


class Invalid(OperationError):
    """The input breaks a rule of the domain; the message says which and the allowed range."""


class Conflict(OperationError):
    """The thing exists but its state forbids the act (an altered archive, reports off)."""
