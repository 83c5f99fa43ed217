"""One i18n mechanism: every table has the same keys in pt and en, and every text the code
and the templates ask for by a literal key exists in the table they read."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from agent.console.i18n import CONSOLE
from agent.i18n import LANGUAGES, Texts
from agent.records import State
from agent.reports.i18n import REPORTS
from agent.status.i18n import STATUS

AGENT = Path(__file__).resolve().parents[2] / "agent"
# `t("key")` in console and status code and templates; `f.t` / `fmt.t` / `self.t` are the
# reports' Formatter wherever it is used (the status page formats numbers with it too).
# (a key built at run time, `t("state." ~ s)`, is not literal: the quote is not followed by
# `)` or `,`; the states' names have their own test)
PLAIN_CALL = re.compile(r"(?<![\w.])t\(\s*['\"]([a-z0-9_.]+)['\"]\s*[,)]")
FORMATTER_CALL = re.compile(r"\b(?:f|fmt|self)\.(?:t|lines)\(\s*['\"]([a-z0-9_.]+)['\"]\s*[,)]")


def _asked(folder: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """Every literal key `pattern` finds under agent/`folder`, with the first file asking."""
    found: dict[str, str] = {}
    for path in sorted((AGENT / folder).rglob("*")):
        if path.suffix in (".py", ".j2") and path.name != "i18n.py":
            for key in pattern.findall(path.read_text(encoding="utf-8")):
                found.setdefault(key, str(path.relative_to(AGENT)))
    return found


@pytest.mark.parametrize(
    ("texts", "asked"),
    [
        (CONSOLE, _asked("console", PLAIN_CALL)),
        (STATUS, _asked("status", PLAIN_CALL)),
        (REPORTS, {**_asked("reports", FORMATTER_CALL), **_asked("status", FORMATTER_CALL)}),
    ],
    ids=["console", "status", "reports"],
)
def test_every_key_asked_for_exists_in_both_languages(texts: Texts, asked: dict[str, str]) -> None:
    assert len(asked) > 10, f"the scan found almost nothing for {texts.name}: the pattern broke"
    for lang in LANGUAGES:
        missing = {key: where for key, where in asked.items() if key not in texts.table(lang)}
        assert not missing, f"{texts.name} ({lang}) lacks: {missing}"


def test_every_state_has_its_name_on_the_console_and_the_status_page() -> None:
    for lang in LANGUAGES:
        for state in State:
            assert f"state.{state.value}" in CONSOLE.table(lang), (lang, state)


def test_a_text_in_one_language_only_stops_the_import() -> None:
    with pytest.raises(ValueError, match=r"keys not in both pt and en: \['extra'\]"):
        Texts("demo", {"pt": {"a": "um", "extra": "x"}, "en": {"a": "one"}})
    with pytest.raises(ValueError, match="languages"):
        Texts("demo", {"pt": {"a": "um"}})


def test_a_missing_key_reads_as_itself_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    texts = Texts("demo", {"pt": {"a": "um {n}"}, "en": {"a": "one {n}"}})
    with caplog.at_level(logging.WARNING, logger="agent.i18n"):
        assert texts.text("en", "a", n=2) == "one 2"
        assert texts.translator("xx")("a") == "um {n}"  # an unknown language: the default
        assert texts.text("pt", "nowhere") == "nowhere" == texts.text("en", "nowhere")
    assert [r.getMessage() for r in caplog.records] == [
        "no demo text for 'nowhere'; showing the key"
    ]
    with pytest.raises(ValueError, match="language 'xx'"):
        texts.table("xx")


def test_not_available_is_said_as_semantics_says_it() -> None:
    """semantics.md: a period without known time has availability N/A, never 100 %."""
    for table in (CONSOLE, REPORTS):
        assert {table.table(lang)["na"] for lang in LANGUAGES} == {"N/A"}
