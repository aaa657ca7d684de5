"""The Dockerfile's Python environment, built as the Dockerfile builds it, runs `opwatch watch`
on the devnet. No Docker engine runs here: the test copies what the Dockerfile's COPY lines
copy into a temporary directory, runs its `pip install` line there into a fresh venv (from the
package registry, with requirements.lock as constraints, as the image build does), checks that
no cloud SDK or web3 came with it, and runs the entry point for a few cycles."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from devnet_config import tight_config_text
from prometheus_server import free_port

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
IMAGE_VENV = "/opt/opwatch/venv"
NOT_IN_IMAGE = ("boto3", "botocore", "aws_lambda_powertools", "google.cloud", "functions_framework", "web3")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_runs_as_non_root_on_a_slim_base_with_opwatch_watch_as_entrypoint() -> None:
    steps = _instructions()
    assert re.fullmatch(r"python:3\.11-slim\S*", dict(steps)["FROM"])
    user = [rest for word, rest in steps if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert json.loads(dict(steps)["ENTRYPOINT"]) == [f"{IMAGE_VENV}/bin/opwatch", "watch"]


def test_the_images_environment_runs_opwatch_watch_on_the_devnet(devnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "build"
    build.mkdir()
    runs = []
    for word, rest in _instructions():
        if word == "COPY":
            *sources, _dest = shlex.split(rest)
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, build / source, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(path, build / source)
        elif word == "RUN" and "pip install" in rest:
            runs.append(rest)
    assert len(runs) == 1, runs
    venv = tmp_path / "venv"
    command = runs[0].replace(IMAGE_VENV, str(venv)).replace("python -m venv", f"{sys.executable} -m venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(["sh", "-c", command], cwd=build, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    python = venv / "bin" / "python"
    probe = ("import importlib.util, sys\n"
             f"names = {NOT_IN_IMAGE!r}\n"
             "print([n for n in names if importlib.util.find_spec(n.split('.')[0]) is not None])")
    assert subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"

    config = tmp_path / "opwatch.toml"
    config.write_text(tight_config_text(devnet))
    watch = subprocess.run([venv / "bin" / "opwatch", "watch", "--config", str(config), "--interval", "1s",
                            "--iterations", "3", "--format", "json", "--state", str(tmp_path / "state.db"),
                            "--listen", f"127.0.0.1:{free_port()}"],
                           env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    findings = [json.loads(line) for line in watch.stdout.splitlines() if line.strip()]
    checks = {f["check"] for f in findings}
    assert {"sequencer_liveness", "rpc_sync", "batcher_lag"} <= checks, (checks, watch.stderr[-3000:])
    assert sum(f["check"] == "sequencer_liveness" for f in findings) == 3  # three cycles
    assert watch.returncode in (0, 1, 3), watch.stderr[-3000:]  # the `check` codes of the last cycle
    assert "Traceback" not in watch.stderr
