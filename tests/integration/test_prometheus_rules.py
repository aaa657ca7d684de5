"""docs/prometheus/opwatch-rules.yml: valid for the real promtool, behaving as its test file says,
and reading only metrics opwatch exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from prometheus_server import binary, exported_metric_names

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prometheus"
RULES = DOCS / "opwatch-rules.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(DOCS / "opwatch-rules.test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_rejects_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yml"
    broken.write_text(RULES.read_text().replace("opwatch_finding_status == 1", "opwatch_finding_status ==", 1))
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_rules_read_only_metrics_opwatch_exports() -> None:
    used = set(re.findall(r"\b(opwatch_[a-z0-9_]+)", RULES.read_text()))
    assert used and used <= exported_metric_names(), used - exported_metric_names()
