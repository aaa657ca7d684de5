"""Measure the Lambda asset: size (unzipped and zipped) and cold import time of each handler.

    .venv/bin/python -m infra.measure [--config infra/example.toml] [--runs 7]

Builds the arm64 assets (what deploys) for their size, and an identical x86_64 one for this
machine's Python to import here (the arm64 native code cannot load on this machine). Each timing is a fresh
interpreter (`-I`, no site-packages but the bundle and boto3, as on Lambda, whose runtime
provides boto3): the handler module's import, then the first-use set-up the first
invocation pays (config load with keccak, boto3 clients). Median of `--runs`. Also
checks that two builds are byte-identical (reproducible).
"""

from __future__ import annotations

import argparse
import filecmp
import io
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .bundling import ROOT, BundleSpec, build
from .remedies import TOPUP_EXTRAS

_PROBE = """
import os, sys, time
t0 = time.perf_counter()
import {module} as handler
t1 = time.perf_counter()
from opwatch.aws import runtime
{setup}
t2 = time.perf_counter()
print(f"{{t1 - t0:.4f}} {{t2 - t1:.4f}}")
"""
_SETUP = {
    "opwatch.aws.check_handler": "fn = runtime.check_function(); fn.publisher.client; fn.config()",
    "opwatch.aws.pager_handler": "runtime.pager()",
    # The top-up's first use: the remedies' service and eth-account (transaction signing).
    "opwatch.aws.remedy_handler": "runtime.remedy_function(); import opwatch.remedies.service, eth_account",
}


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def zip_bytes(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(path))
    return len(buffer.getvalue())


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    while stack:
        c = stack.pop()
        if c.left_only or c.right_only or filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)[1:] != (
                [], []):
            return False
        stack.extend(c.subdirs.values())
    return True


def cold_import(bundle: Path, module: str, runs: int) -> tuple[float, float]:
    import boto3

    boto_site = str(Path(boto3.__file__).parent.parent)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{bundle}:{boto_site}",
           "OPWATCH_CONFIG": str(bundle / "opwatch.toml"), "OPWATCH_NETWORK": "mainnet",
           "OPWATCH_CHECK": "sequencer_liveness", "AWS_LAMBDA_FUNCTION_NAME": "measure",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "FINDINGS_TOPIC_ARN": "arn:aws:sns:us-east-1:111111111111:t", "ALERTS_TABLE": "a", "REMEDY_TABLE": "r",
           "IDEMPOTENCY_TABLE": "i", "PAGERDUTY_SECRET": "s", "OPWATCH_REMEDIES": "topup",
           "POWERTOOLS_SERVICE_NAME": "opwatch",
           "POWERTOOLS_METRICS_NAMESPACE": "opwatch"}
    imports, setups = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-I", "-c", _PROBE.format(module=module, setup=_SETUP[module])],
                             env=env, capture_output=True, text=True, check=True, cwd="/")
        a, b = map(float, out.stdout.split())
        imports.append(a)
        setups.append(b)
    return statistics.median(imports), statistics.median(setups)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "infra" / "example.toml")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    text = args.config.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        specs = {"arm": BundleSpec(text), "arm2": BundleSpec(text), "x86": BundleSpec(text, "x86_64", here),
                 "topup-arm": BundleSpec(text, extras=TOPUP_EXTRAS),
                 "topup-x86": BundleSpec(text, "x86_64", here, extras=TOPUP_EXTRAS)}
        built = {name: build(Path(tmp) / name, spec) for name, spec in specs.items()}
        print(f"reproducible (two builds byte-identical): {same_tree(built['arm'], built['arm2'])}")
        for label, name in (("checks/pager/snapshot", "arm"), ("top-up", "topup-arm")):
            arm = built[name]
            print(f"asset {label} (arm64): {tree_bytes(arm) / 2**20:.2f} MiB unzipped, "
                  f"{zip_bytes(arm) / 2**20:.2f} MiB zipped")
            for top in sorted(arm.iterdir(), key=lambda p: -tree_bytes(p) if p.is_dir() else -p.stat().st_size)[:5]:
                size = tree_bytes(top) if top.is_dir() else top.stat().st_size
                print(f"  {top.name:<40} {size / 2**20:6.2f} MiB")
        print(f"Python {sys.version.split()[0]} on this machine, median of {args.runs} fresh interpreters:")
        for module in _SETUP:
            bundle = built["topup-x86" if module.endswith("remedy_handler") else "x86"]
            imp, setup = cold_import(bundle, module, args.runs)
            print(f"  {module:<28} import {imp * 1000:6.0f} ms, first-use set-up {setup * 1000:6.0f} ms")

if __name__ == "__main__":
    main()
