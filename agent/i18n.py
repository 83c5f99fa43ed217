"""Texts in Portuguese (pt-PT, the default) and English: one mechanism for the console, the
reports and the public status page, each with its own table of texts.

Every table has the same keys in both languages (checked when it is built, so a text added in
one language only stops the import). A key missing from a table reads as the key itself,
logged once: an operator at 3 a.m. gets a page with one odd word rather than an error, and
tests/agent/test_i18n.py fails on every key the code and templates ask for that is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

LANGUAGES = ("pt", "en")
DEFAULT = "pt"

Text = str | list[str]  # a list: lines of a paragraph (reports)


class Texts:
    """One audience's texts (`name`: console, reports, status) in every language."""

    def __init__(self, name: str, tables: Mapping[str, Mapping[str, Text]]) -> None:
        if tuple(tables) != LANGUAGES:
            raise ValueError(f"{name} texts: languages {tuple(tables)}, expected {LANGUAGES}")
        keys = {lang: set(table) for lang, table in tables.items()}
        for lang in LANGUAGES[1:]:
            differ = sorted(keys[DEFAULT] ^ keys[lang])
            if differ:
                raise ValueError(f"{name} texts: keys not in both {DEFAULT} and {lang}: {differ}")
        self.name = name
        self.tables: dict[str, dict[str, Text]] = {k: dict(v) for k, v in tables.items()}
        self._missing: set[str] = set()

    def table(self, lang: str) -> dict[str, Text]:
        """`lang`'s texts; an unknown language is an error (callers check it at the edge)."""
        if lang not in self.tables:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        return self.tables[lang]

    def lookup(self, lang: str, key: str) -> Text:
        found = self.table(lang).get(key)
        if found is None:
            if key not in self._missing:
                self._missing.add(key)
                log.warning("no %s text for %r; showing the key", self.name, key)
            return key
        return found

    def text(self, lang: str, key: str, **values: object) -> str:
        found = str(self.lookup(lang, key))
        return found.format(**values) if values else found

    def translator(self, lang: str) -> Callable[[str], str]:
        """`t(key)` for templates; an unknown `lang` falls back to the default language."""
        chosen = lang if lang in self.tables else DEFAULT

        def t(key: str) -> str:
            return self.text(chosen, key)

        return t
