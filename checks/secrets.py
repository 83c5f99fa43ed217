"""One mask for every `${NAME}` value vigia resolved: probe texts, delivery errors, log lines.

The YAML loader registers each resolved secret value in `SECRETS` as it substitutes it, so the
catalogue, the settings and the alerting receivers all feed the same mask without wiring.
Values shorter than `MIN_LENGTH` are not masked: replacing "1" or "on" everywhere would mangle
every text and hide nothing worth hiding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

MIN_LENGTH = 4
MASK = "***"


class SecretMask:
    """Replaces every known secret value (and its URL-quoted and repr forms) with `***`."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            forms = set(self._forms) | {value, quote(value, safe=""), repr(value)[1:-1]}
            # longest first, so a secret containing another is masked whole
            self._forms = tuple(sorted(forms, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def mask_value(self, value: Any) -> Any:
        """`value` with secrets masked in its strings (lists of strings too); others unchanged."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            return [self.mask_value(v) for v in value]
        return value

    def __bool__(self) -> bool:
        return bool(self._forms)


SECRETS = SecretMask()


def redacted_origin(url: str) -> str:
    """`scheme://host:port/…`: never the userinfo, path, query or fragment (where tokens live)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    host = f"[{host}]" if ":" in host else host
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


class SecretFilter(logging.Filter):
    """Masks secrets in a record's final message (its args are rendered first, then dropped)."""

    def __init__(self, mask: SecretMask = SECRETS) -> None:
        super().__init__()
        self._mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._mask:
            return True
        message = record.getMessage()
        masked = self._mask.mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask.mask(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_filter(mask: SecretMask = SECRETS, loggers: tuple[str, ...] = ("",)) -> None:
    """Put the filter on the handlers of `loggers` (the root's see every propagated record;
    uvicorn brings handlers of its own)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, SecretFilter) for f in handler.filters):
                handler.addFilter(SecretFilter(mask))
