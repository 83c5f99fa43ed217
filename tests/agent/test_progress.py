"""agent/progress.py: numbered steps and the time taken, on a terminal only."""

from __future__ import annotations

import io

from agent.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_are_numbered_and_the_end_gives_the_time_taken() -> None:
    ticks = iter([10.0, 12.5])
    stream = Terminal()
    progress = Progress("report 2026-10", 2, stream, clock=lambda: next(ticks))
    progress.step("figures of 3 services")
    progress.step("writing html")
    progress.finish("1 file")
    assert stream.getvalue() == (
        "vigia: report 2026-10 [1/2] figures of 3 services…\n"
        "vigia: report 2026-10 [2/2] writing html…\n"
        "vigia: report 2026-10: 1 file in 2.5 s\n"
    )


def test_nothing_is_written_where_no_one_watches() -> None:
    stream = io.StringIO()  # a pipe or a file: isatty() is False
    progress = Progress("catalogue c.yaml", 1, stream)
    progress.step("reading")
    progress.finish()
    assert stream.getvalue() == "" and not progress.shown
