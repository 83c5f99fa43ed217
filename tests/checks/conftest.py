"""Every async probe test runs on asyncio's own loop and on uvloop, which `vigia run` uses
where it is installed: the HTTP probe's network backend (checks/http_backend.py) talks to the
loop's transports directly, and uvloop's are not asyncio's classes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

from checks.context import ProbeContext
from tests.checks.loopback import Pki, probe_context


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:  # a dependency everywhere but Windows (pyproject.toml)
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    """A probe context with a fresh connection pool, closed after the test (a test module that
    needs another context defines its own `ctx`)."""
    context = probe_context()
    yield context
    await context.aclose()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A private CA for the test's certificates (tests/checks/loopback.py)."""
    return Pki(tmp_path)
