"""No text a target, a plugin or an operator can produce stops recording (issue #12, defect 1).

Run on SQLite and on PostgreSQL, whose text type cannot hold NUL: before the store cleaned text
at its columns, one NUL in a plugin's output failed its batch for ever and every later effect
queued behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from agent.records import Effect, ResultRecorded
from agent.store.cleaning import TEXT_LIMIT, clean_text
from agent.store.sql import SqlStore
from agent.store.writer import StoreWriter
from checks.result import Outcome, ProbeResult

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOSTILE = "CRITICAL\x00 - disk\ud800 full \udfff end"


def _result(check: str, second: int, reason: str = "", **measurements: object) -> Effect:
    at = T0 + timedelta(seconds=second)
    return ResultRecorded(ProbeResult(check, at, 0.1, Outcome.FAIL, reason, measurements))  # type: ignore[arg-type]


async def test_nul_and_lone_surrogates_are_stored_cleaned_and_recording_continues(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    async with StoreWriter(store, linger=0, retry_initial=0.01, retry_max=0.05) as writer:
        writer.submit([_result("plugin/nagios", 0, HOSTILE, output=HOSTILE, **{"k\x00": 1})])
        writer.submit([_result("other/http", 1, "refused")])
        await writer.drain()
        assert writer.errors_total == 0 and writer.quarantined_total == 0
    stored = {s.result.check: s.result for s in store.results()}
    assert set(stored) == {"plugin/nagios", "other/http"}
    reason = stored["plugin/nagios"].reason
    assert "\x00" not in reason and "\ud800" not in reason
    assert reason == "CRITICAL\ufffd - disk\ufffd full \ufffd end"
    assert stored["plugin/nagios"].measurements["output"] == reason


async def test_operator_text_with_nul_is_stored(open_store: Callable[..., SqlStore]) -> None:
    store = open_store()
    start = datetime.now(UTC) + timedelta(days=1)
    window = store.add_window(
        "web", start, start + timedelta(hours=1), "up\x00grade", "ana\x00", T0
    )
    [stored] = [w for w in store.windows() if w.id == window.id]
    assert stored.reason == "up\ufffdgrade" and stored.author == "ana\ufffd"


async def test_a_record_the_database_refuses_is_quarantined_and_the_rest_is_written(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    naive = datetime(2024, 5, 1, 12, 0)  # the store takes aware UTC only: refused as data
    bad = ResultRecorded(ProbeResult("bad/http", naive, 0.1, Outcome.OK))
    async with StoreWriter(store, linger=0.05, retry_initial=0.01, retry_max=0.05) as writer:
        for n in range(20):
            writer.submit([_result("good/http", n)])
            if n == 7:
                writer.submit([bad])
        await writer.drain()
        assert writer.quarantined_total == 1
    assert len(store.results(limit=100)) == 20
    [kept] = store.quarantined()
    assert kept["kind"] == "ResultRecorded" and "bad/http" in kept["record"]
    assert "naive datetime" in kept["error"]


async def test_a_database_outage_is_still_retried_not_quarantined(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    path = Path(str(tmp_path)) / "v.db"
    store = SqlStore.open(f"sqlite:///{path}", busy_timeout=0.02)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer = StoreWriter(store, linger=0, retry_initial=0.01, retry_max=0.05)
        writer.start()
        writer.submit([_result("web/http", 0)])
        import asyncio

        while writer.errors_total < 3:
            await asyncio.sleep(0.01)
        blocker.execute("COMMIT")
        await asyncio.wait_for(writer.drain(), timeout=5)
        assert writer.quarantined_total == 0 and len(store.results()) == 1
        await writer.aclose()
    finally:
        blocker.close()
        store.close()


@pytest.mark.parametrize("size", [TEXT_LIMIT - 1, TEXT_LIMIT, TEXT_LIMIT + 1, 10 * TEXT_LIMIT])
def test_oversized_text_is_bounded_and_says_it_was_cut(size: int) -> None:
    text = clean_text("x" * size)
    assert len(text) <= TEXT_LIMIT
    assert ("characters cut" in text) == (size > TEXT_LIMIT)


def test_well_formed_text_is_unchanged() -> None:
    for text in ("plain", "Segurança Social — 100 %", "emoji 🛰 pair", ""):
        assert clean_text(text) is text or clean_text(text) == text
