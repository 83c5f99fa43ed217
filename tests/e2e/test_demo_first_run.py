"""A newcomer's first run: `vigia demo` prints a way into the console, the board shows the
scripted outage in headless Chromium, and the demo ends by writing its monthly report."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, SCREENSHOTS, sync_api

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """The demo's standard output, read as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._stream = proc.stdout
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def close(self) -> None:
        self._reader.join(timeout=5)
        self._stream.close()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def wait_for(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.search(pattern, "".join(self.lines))
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the demo's output:\n{''.join(self.lines)}")


def test_demo_shows_the_board_with_its_token_and_ends_with_the_report(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "agent.cli", "demo", "--listen", listen, "--duration", "120"]
    demo = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = Output(demo)
    try:
        token = out.wait_for(r"operator token:\s+(vigia_\S+)", 30).group(1)
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
            page.goto(f"http://{listen}/")
            page.fill("#token", token)
            page.press("#token", "Enter")
            page.wait_for_url(f"http://{listen}/")
            # the script takes Autenticação Central down 20 s in; 5 s probes confirm it
            page.wait_for_selector('#tile-autenticacao[data-state="down"]', timeout=90_000)
            page.wait_for_selector("#incidents .badge[data-start]", timeout=30_000)
            assert "Autenticação" in page.inner_text("#incidents")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "demo-board.png"))
            chromium.close()
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
        report = Path(out.wait_for(r"(\S+/vigia-\d{4}-\d{2}\.html)", 5).group(1))
        assert report.is_file() and "Autenticação Central" in report.read_text()
    finally:
        demo.kill()
        demo.wait()
        out.close()
