"""Cold start: the deployed Lambda bundle's size, and for each entry point on both clouds its
cold import and its first-use set-up, in fresh interpreters.

AWS: the arm64 assets that deploy, for size (`infra.bundling`); an identical x86_64 build for
this machine's Python, imported in fresh interpreters (`-I -S`: no site-packages, no
environment) whose path is the bundle and a folder holding only what Lambda's Python runtime
provides (boto3, botocore, s3transfer, jmespath, dateutil, urllib3, six), as on Lambda.
GCP: `opwatch.gcp.main` (what functions-framework loads) in fresh interpreters of the venv,
which holds the GCP bundle's requirements at the same pins.

Columns, per entry point:
- import: the handler module's import (Lambda's init, functions-framework loading main.py);
- first-use set-up: what the first invocation builds before it reads the chain (a check:
  the config with its keccak-checked addresses, the registry, the function's seams);
- publisher: what the first publish then builds (AWS: boto3's SNS client; GCP: google-auth's
  `AuthorizedSession` for the REST call), after the chain has been read.
Median of RUNS interpreters each.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT

RUNS = 7
# What Lambda's Python runtime provides beside the function's code.
LAMBDA_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")

_PROBE = """
import sys
sys.path[:0] = {paths!r}
import time
t0 = time.perf_counter()
import {module} as handler
t1 = time.perf_counter()
{setup}
t2 = time.perf_counter()
{publisher}
t3 = time.perf_counter()
import opwatch
assert opwatch.__file__.startswith({home!r}), opwatch.__file__
print(f"{{t1 - t0:.4f}} {{t2 - t1:.4f}} {{t3 - t2:.4f}}")
"""
# (set-up before the chain is read, what the first publish builds)
_AWS = {
    "opwatch.aws.check_handler": ("from opwatch.aws import runtime; fn = runtime.check_function(); fn.config()",
                                  "fn.publisher.client"),
    "opwatch.aws.pager_handler": ("from opwatch.aws import runtime; runtime.pager()", ""),
    # The top-up's first use: the remedies' service and eth-account (transaction signing).
    "opwatch.aws.remedy_handler": ("from opwatch.aws import runtime; runtime.remedy_function(); "
                                   "import opwatch.remedies.service, eth_account", ""),
}
_GCP = {
    "opwatch.gcp.main": (
        "handler._config(); handler._registry(); handler._resources(); handler._memory(); handler._publisher()",
        "from google.auth.credentials import AnonymousCredentials\n"
        "from google.auth.transport.requests import AuthorizedSession\n"
        "AuthorizedSession(AnonymousCredentials())"),
}
_ENV = {"OPWATCH_NETWORK": "mainnet", "OPWATCH_CHECK": "sequencer_liveness", "AWS_LAMBDA_FUNCTION_NAME": "measure",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
        "FINDINGS_TOPIC_ARN": "arn:aws:sns:us-east-1:111111111111:t", "ALERTS_TABLE": "a", "REMEDY_TABLE": "r",
        "IDEMPOTENCY_TABLE": "i", "PAGERDUTY_SECRET": "s", "OPWATCH_REMEDIES": "topup",
        "POWERTOOLS_SERVICE_NAME": "opwatch", "POWERTOOLS_METRICS_NAMESPACE": "opwatch",
        "OPWATCH_FINDINGS_TOPIC": "projects/p/topics/findings"}


def _probe(args: list[str], module: str, setup: str, publisher: str, paths: list[str], home: str,
           env: dict[str, str]) -> tuple[float, float, float]:
    code = _PROBE.format(paths=paths, module=module, setup=setup, publisher=publisher or "pass", home=home)
    runs = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, *args, "-c", code], env=env, capture_output=True, text=True,
                             check=True, cwd="/")
        runs.append(tuple(map(float, out.stdout.split())))
    return tuple(round(statistics.median(r[i] for r in runs), 3) for i in range(3))  # type: ignore[return-value]


def _lambda_runtime(where: Path) -> Path:
    import boto3

    site = Path(boto3.__file__).parent.parent
    where.mkdir()
    for name in LAMBDA_RUNTIME:
        (where / name).symlink_to(site / name)
    return where


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from infra.bundling import BundleSpec, build
    from infra.measure import same_tree, tree_bytes, zip_bytes
    from infra.remedies import TOPUP_EXTRAS

    text = (ROOT / "infra" / "example.toml").read_text()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    out: dict[str, Any] = {"assets": {}, "handlers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        specs = {"arm": BundleSpec(text), "arm2": BundleSpec(text), "x86": BundleSpec(text, "x86_64", here),
                 "topup-arm": BundleSpec(text, extras=TOPUP_EXTRAS),
                 "topup-x86": BundleSpec(text, "x86_64", here, extras=TOPUP_EXTRAS)}
        built = {name: build(Path(tmp) / name, spec) for name, spec in specs.items()}
        out["reproducible"] = same_tree(built["arm"], built["arm2"])
        for label, name in (("checks, pager, snapshot, failover", "arm"), ("top-up", "topup-arm")):
            out["assets"][label] = {"unzipped_mib": round(tree_bytes(built[name]) / 2**20, 2),
                                    "zipped_mib": round(zip_bytes(built[name]) / 2**20, 2)}
        runtime = str(_lambda_runtime(Path(tmp) / "lambda-runtime"))
        for module, (setup, publisher) in _AWS.items():
            bundle = built["topup-x86" if module.endswith("remedy_handler") else "x86"]
            env = {"PATH": os.environ.get("PATH", ""), **_ENV, "OPWATCH_CONFIG": str(bundle / "opwatch.toml")}
            imp, first, pub = _probe(["-I", "-S"], module, setup, publisher, [str(bundle), runtime], str(bundle), env)
            out["handlers"][module] = {"cloud": "aws", "import_s": imp, "first_use_s": first,
                                       "publisher_s": pub if publisher else None}
    for module, (setup, publisher) in _GCP.items():
        env = {"PATH": os.environ.get("PATH", ""), **_ENV,
               "OPWATCH_CONFIG": str(ROOT / "infra" / "example.toml")}
        imp, first, pub = _probe(["-I"], module, setup, publisher, [], str(ROOT / "functions"), env)
        out["handlers"][module] = {"cloud": "gcp", "import_s": imp, "first_use_s": first, "publisher_s": pub}
    out["runs"] = RUNS
    out["targets"] = {"import_s": 0.25, "first_use_s": 0.10}
    out["table"] = table(out)
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


def table(d: dict[str, Any]) -> str:
    lines = ["### Cold start and package size (median of fresh interpreters)", "",
             "| AWS asset (arm64, what deploys) | unzipped | zipped |", "|---|---|---|"]
    for label, a in d["assets"].items():
        lines.append(f"| {label} | {a['unzipped_mib']} MiB | {a['zipped_mib']} MiB |")
    lines += ["", "| entry point | cloud | cold import (≤ 250 ms) | first-use set-up, before the chain (≤ 100 ms) "
              "| first publish's client, after the chain |", "|---|---|---|---|---|"]
    for module, h in d["handlers"].items():
        lines.append(f"| `{module}` | {h['cloud'].upper()} | {_ms(h['import_s'])} | {_ms(h['first_use_s'])} | "
                     f"{_ms(h['publisher_s'])} |")
    lines += ["", f"Reproducible build (two builds byte-identical): {d['reproducible']}."]
    return "\n".join(lines)
