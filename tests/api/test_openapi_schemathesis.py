"""Schemathesis against the published OpenAPI of a real `vigia run` on loopback: generated
requests never get a server error, whoever sends them: an admin token (so they reach every
handler), an operator's, a viewer's and a probe worker's (refusals must be 4xx too)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.api.auth import hash_token, new_token
from tests.api.conftest import CATALOG

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install -e .[test])"
)
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = pytest.mark.slow
ADMIN = new_token()
OTHERS = {role: new_token() for role in ("operator", "viewer")}
PROBE = new_token()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    (tmp / "services.yaml").write_text(CATALOG, encoding="utf-8")
    tokens = [f"  - {{name: fuzz, role: admin, hash: '{hash_token(ADMIN)}'}}"]
    tokens += [f"  - {{name: {r}, role: {r}, hash: '{hash_token(t)}'}}" for r, t in OTHERS.items()]
    probe = f"locations:\n  - {{name: porto, hash: '{hash_token(PROBE)}'}}\n"
    (tmp / "vigia.yaml").write_text("tokens:\n" + "\n".join(tokens) + "\n" + probe)
    port = _free_port()
    command = [
        sys.executable, "-m", "agent.cli", "--config", str(tmp / "vigia.yaml"),
        "--catalog", str(tmp / "services.yaml"), "--db", str(tmp / "vigia.db"),
        "run", "--listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    log = tmp / "agent.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    _wait_up(url, log)
    yield url
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()


def _wait_up(url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"agent did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def api_schema(agent_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{agent_url}/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any, agent_url: str) -> None:
    case.call_and_validate(
        base_url=agent_url,
        headers={"Authorization": f"Bearer {ADMIN}"},
        checks=[not_a_server_error],
    )


def _as(token: str) -> Any:
    """A schemathesis test sending every generated request with `token`."""

    @schema.parametrize()
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case: Any, agent_url: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        case.call_and_validate(base_url=agent_url, headers=headers, checks=[not_a_server_error])

    return test


test_no_operator_request_gets_a_server_error = _as(OTHERS["operator"])
test_no_viewer_request_gets_a_server_error = _as(OTHERS["viewer"])
test_no_probe_worker_request_gets_a_server_error = _as(PROBE)


def test_the_generated_requests_were_authenticated_as_admin(agent_url: str) -> None:
    """Proof that the fuzzing reached the handlers: its reloads are in the audit trail."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    audit = httpx.get(f"{agent_url}/api/v1/audit", headers=headers, timeout=10).json()
    assert audit["total"] > 0
    assert {item["actor"] for item in audit["items"]} == {"fuzz"}
