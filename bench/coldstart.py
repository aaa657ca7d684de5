"""Cold start: the deployed Lambda bundle's size and each handler's cold import, and the GCP
entry point's import.

The AWS figures use `infra.measure` (the arm64 assets that deploy, for size; an identical
x86_64 build for this machine's Python, imported in fresh interpreters that see only the
bundle and boto3, as on Lambda). The GCP figure imports `opwatch.gcp.main` (what
functions-framework loads) in fresh interpreters.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT

RUNS = 7


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from infra.bundling import BundleSpec, build
    from infra.measure import _SETUP, cold_import, same_tree, tree_bytes, zip_bytes
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
        for module in _SETUP:
            bundle = built["topup-x86" if module.endswith("remedy_handler") else "x86"]
            imp, setup = cold_import(bundle, module, RUNS)
            out["handlers"][module] = {"import_s": round(imp, 3), "first_use_s": round(setup, 3)}
    probe = "import time; t=time.perf_counter(); import opwatch.gcp.main; print(time.perf_counter()-t)"
    gcp = [float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                cwd=str(ROOT)).stdout) for _ in range(RUNS)]
    out["gcp_entry_import_s"] = round(statistics.median(gcp), 3)
    out["runs"] = RUNS
    out["table"] = table(out)
    return out


def table(d: dict[str, Any]) -> str:
    lines = ["### Cold start and package size (median of fresh interpreters)", "",
             "| AWS asset (arm64, what deploys) | unzipped | zipped |", "|---|---|---|"]
    for label, a in d["assets"].items():
        lines.append(f"| {label} | {a['unzipped_mib']} MiB | {a['zipped_mib']} MiB |")
    lines += ["", "| handler | cold import | first-use set-up |", "|---|---|---|"]
    for module, h in d["handlers"].items():
        lines.append(f"| `{module}` | {h['import_s'] * 1000:.0f} ms | {h['first_use_s'] * 1000:.0f} ms |")
    lines.append(f"| `opwatch.gcp.main` (GCP entry points, with functions-framework installed) | "
                 f"{d['gcp_entry_import_s'] * 1000:.0f} ms | — |")
    lines += ["", f"Reproducible build (two builds byte-identical): {d['reproducible']}."]
    return "\n".join(lines)
