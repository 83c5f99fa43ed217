"""The one place the shared operations' domain errors become console pages: a status and the
key of the sentence the message page shows (agent/console/i18n.py).

The console names what failed in the user's language, not the operation's English message.
"""

from __future__ import annotations

from agent.operations.errors import Conflict, Invalid, NotFound, OperationError

STATUS: dict[type[OperationError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
}
KEYS: dict[type[OperationError], str] = {
    NotFound: "not_found",
    Conflict: "archive_altered",  # the one conflict the console meets: a removed archive file
    Invalid: "public_message_bad",  # the one free text the console checks: a public message
}


def refusal(exc: OperationError) -> tuple[int, str]:
    """(status, message key) for the error's class or the nearest one it derives from."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind], KEYS[kind]
    return 400, "forbidden"
