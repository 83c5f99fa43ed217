"""The Prometheus export of the CCO rules: what ships is what the code generates, and it passes
promtool's check and the shipped promtool unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.catalog.loader import load
from alerting.promexport import export
from alerting.rule_file import load_rules

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "alerting" / "prometheus" / "vigia-rules.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus; CI installs it)"
)


def exported() -> str:
    return export(load_rules(), load(ROOT / "catalog" / "services.yaml"))


def test_the_shipped_rule_file_is_the_current_export() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == exported(), (
        "regenerate: vigia rules export > alerting/prometheus/vigia-rules.yml"
    )


def test_every_cco_rule_with_a_metric_form_is_exported_and_soc_rules_are_not() -> None:
    text = exported()
    for name in (
        "ServiceDown",
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnLow",
        "PlatinumIncidentOverMeta",
        "CertificateExpiringSoon",
        "Watchdog",
    ):
        assert f"alert: {name}\n" in text
    assert "CertificateChanged" not in text and "DnsAnswersChanged" not in text


@needs_promtool
def test_promtool_accepts_the_exported_rules(tmp_path: Path) -> None:
    target = tmp_path / "vigia-rules.yml"
    target.write_text(exported(), encoding="utf-8")
    run = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(target)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


@needs_promtool
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    # promtool evaluates the recording and alerting groups in no fixed order, so a test that
    # sits on a one-step edge passes or fails by chance: several runs expose such a test.
    for _ in range(5):
        run = subprocess.run(
            [str(PROMTOOL), "test", "rules", "vigia-rules_test.yml"],
            cwd=SHIPPED.parent,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout + run.stderr
