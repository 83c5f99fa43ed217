"""deploy/Containerfile builds with podman, and the image runs as deploy/Containerfile promises.

The image is built by deploy/build-image (a Debian base from mmdebstrap, no registry) and run
with a read-only root filesystem and a volume for the state; /healthz must answer 200 on the
host's loopback. Hosts where rootful podman or the base cannot work skip with the reason.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BUILD = ROOT / "deploy" / "build-image"
BASE = "localhost/vigia-base:bookworm"
IMAGE = "localhost/vigia:test"
PODMAN = shutil.which("podman")
BUILD_TIMEOUT = 600  # seconds; a cold build (base + wheels + image) takes about a minute
CATALOG = """\
version: 1
services:
  - id: itself
    name: The agent's own port
    macro_service: formacao
    tier: bronze
    owner: CCO
    checks:
      - tcp: {host: 127.0.0.1, port: 9330}
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PODMAN is None, reason="podman is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mmdebstrap and rootful podman need root"),
]


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PODMAN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _runtime_options() -> list[list[str]]:
    """podman's defaults first, then what a constrained host needs: rlimits no higher than
    this process's (without CAP_SYS_RESOURCE podman's 1048576 cannot be set) and runc where
    crun refuses cgroup v1 with a v2 controller ("hybrid mode")."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ulimits = ["--ulimit", f"nofile={soft}:{hard}", "--ulimit", "nproc=4096:4096"]
    runc = ["--runtime", "runc"] if shutil.which("runc") else []
    return [[], ulimits, *([runc, runc + ulimits] if runc else [])]


@pytest.fixture(scope="module")
def run_options() -> list[str]:
    environment = {**os.environ, "VIGIA_BASE_IMAGE": BASE}
    if _podman("image", "exists", BASE).returncode != 0 and not shutil.which("mmdebstrap"):
        pytest.skip("no base image and no mmdebstrap to make one (apt-get install mmdebstrap)")
    base = subprocess.run(
        [str(BUILD), "--base-only"], capture_output=True, text=True, env=environment,
        timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    if base.returncode != 0:
        pytest.skip(f"the Debian base cannot be built here: {base.stderr.strip()[-500:]}")
    tried = []
    for options in _runtime_options():
        done = _podman("run", "--rm", *options, BASE, "true")
        if done.returncode == 0:
            return options
        tried.append(f"{' '.join(options) or 'defaults'}: {done.stderr.strip()[-200:]}")
    pytest.skip("podman cannot run a container here: " + " | ".join(tried))


@pytest.fixture(scope="module")
def image(run_options: list[str]) -> str:
    environment = {
        **os.environ,
        "VIGIA_BASE_IMAGE": BASE,
        "VIGIA_IMAGE": IMAGE,
        "PYTHON": sys.executable,
        "PODMAN_BUILD_OPTS": " ".join(run_options),
    }
    done = subprocess.run(
        [str(BUILD)], capture_output=True, text=True, env=environment,
        timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(IMAGE)
    return IMAGE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Agent:
    """`vigia run` in a container: read-only root, state volume, catalogue mounted read-only."""

    def __init__(self, image: str, options: list[str], config: Path, volume: str) -> None:
        self.name = f"vigia-test-{uuid.uuid4().hex[:8]}"
        self.port = _free_port()
        started = _podman(
            "run", "--detach", "--name", self.name, *options, "--read-only",
            "--volume", f"{volume}:/var/lib/vigia", "--volume", f"{config}:/etc/vigia:ro",
            "--publish", f"127.0.0.1:{self.port}:9330", image, "run",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

    def healthz(self, deadline: float = 60.0) -> tuple[int, str]:
        """The first answer of /healthz from the host, retried while the agent starts."""
        url = f"http://127.0.0.1:{self.port}/healthz"
        until = time.monotonic() + deadline
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return answer.status, answer.read().decode()
            except OSError:
                if time.monotonic() > until:
                    raise AssertionError(f"/healthz never answered: {self.logs()}") from None
                time.sleep(0.5)

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return _podman("exec", self.name, *command)

    def logs(self) -> str:
        return _podman("logs", self.name).stderr[-2000:]

    def terminate(self) -> tuple[int, str]:
        """SIGTERM, as `podman stop` sends: (exit code, the log's last lines)."""
        _podman("stop", "--time", "20", self.name)
        code = _podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout
        return int(code.strip()), self.logs()

    def stop(self) -> None:
        _podman("rm", "--force", "--time", "10", self.name)


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"vigia-test-{uuid.uuid4().hex[:8]}"
    assert _podman("volume", "create", name).returncode == 0
    yield name
    _podman("volume", "rm", "--force", name)


def _config_directory(directory: Path, catalog: str) -> Path:
    """/etc/vigia for the container: the catalogue, readable by its vigia user."""
    (directory / "services.yaml").write_text(catalog)
    directory.chmod(0o755)
    (directory / "services.yaml").chmod(0o644)
    return directory


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config_directory(tmp_path, CATALOG)


def test_the_agent_runs_read_only_with_its_state_in_the_volume(
    image: str, run_options: list[str], config: Path, volume: str
) -> None:
    agent = Agent(image, run_options, config, volume)
    try:
        status, body = agent.healthz()
        assert status == 200, body
        assert '"healthy": true' in body
        # the image's HEALTHCHECK asks the same endpoint from inside
        checked = _podman("healthcheck", "run", agent.name)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert agent.exec("id", "-u").stdout.strip() == "10001"
        written = agent.exec("touch", "/opt/vigia/written")
        assert written.returncode != 0 and "Read-only file system" in written.stderr
        state = agent.exec("ls", "/var/lib/vigia").stdout.split()
        assert "vigia.db" in state, state
        window = ["--start", "2099-01-01T02:00", "--end", "2099-01-01T03:00", "--reason", "kept"]
        added = agent.exec("vigia", "maintenance", "add", "--service", "itself", *window)
        assert added.returncode == 0, added.stderr
        code, log = agent.terminate()  # vigia is PID 1: SIGTERM reaches it and it drains
        assert code == 0 and "vigia stopped cleanly" in log, log
    finally:
        agent.stop()
    # the state outlives the container: a new one on the same volume reads what was written
    listed = _podman(
        "run", "--rm", *run_options, "--read-only", "--volume", f"{volume}:/var/lib/vigia",
        "--volume", f"{config}:/etc/vigia:ro", image, "maintenance", "list", "--json",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [w["reason"] for w in json.loads(listed.stdout)] == ["kept"]


def test_the_entrypoint_is_vigia_so_every_subcommand_runs(
    image: str, run_options: list[str]
) -> None:
    """The same image is the core (`run`) and a probe worker (`probe`): any subcommand works."""
    helped = _podman("run", "--rm", *run_options, "--read-only", image, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: vigia")
    wrong = _podman("run", "--rm", *run_options, "--read-only", image, "no-such-command")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def test_icmp_checks_run_unprivileged_with_the_documented_sysctl(
    image: str, run_options: list[str], tmp_path: Path
) -> None:
    """docs/operations.md: the vigia group may ping in the container, no capability needed."""
    icmp = CATALOG.replace(
        "tcp: {host: 127.0.0.1, port: 9330}", "icmp: {host: 127.0.0.1, count: 1}"
    )
    config = _config_directory(tmp_path, icmp)
    check = [*run_options, "--read-only", "--volume", f"{config}:/etc/vigia:ro"]
    denied = _podman("run", "--rm", *check, image, "check")
    assert denied.returncode == 1 and "ICMP not permitted" in denied.stdout, denied.stdout
    allowed = _podman(
        "run", "--rm", "--sysctl", "net.ipv4.ping_group_range=10001 10001", *check, image, "check"
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert " ok " in allowed.stdout
