"""The shape of the package: the core imports no cloud SDK, and no module imports itself back.

The core is `functions/opwatch` minus its adapters. Adapters translate between a runtime and
the core, and only they may import a cloud SDK or each other:

- `aws/`: everything boto3/botocore/Powertools (Lambda handlers, DynamoDB/S3/EBS/KMS/Route 53,
  Secrets Manager), and its composition root `aws/compose.py`.
- `gcp/`: everything Google (Cloud Functions entry points, the Google REST boundary, Firestore,
  GCS, Compute Engine, Cloud DNS, Secret Manager, Pub/Sub), and `gcp/compose.py`.
- `cli/`: the local runtime (the `opwatch` command, the devnet), which may reach either cloud
  (an operator's `--invoke`, a local remedy against a bucket); its root is `cli/compose.py`.
- `deploy/`: what renders a deployment (the CDK values, the gcloud plan); it reads the cloud
  adapters' permission and name rules.

The rule for imports: every `import` statement counts, at module level or inside a function
(a lazy import still loads the SDK on the path that runs it, and a lazy import is still a
dependency in a cycle). An edge from a module to one of its own parent packages is not
counted: Python has initialised the parent before the child runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "opwatch"
ADAPTERS = ("aws", "gcp", "cli", "deploy")
CLOUD_SDKS = ("boto3", "botocore", "google", "functions_framework", "aws_lambda_powertools")
CLOUD_ADAPTERS = ("opwatch.aws", "opwatch.gcp")


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement of the module, resolved to absolute names."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found += [(f"{module}.{a.name}", node.lineno) for a in node.names if f"{module}.{a.name}" in known]
    return found


def _is_core(name: str) -> bool:
    parts = name.split(".")
    return len(parts) < 2 or parts[1] not in ADAPTERS


def cloud_imports_in_core() -> list[str]:
    known = _modules()
    return [f"{name}:{line} imports {module}" for name, path in known.items() if _is_core(name)
            for module, line in _imports(name, path, known)
            if module.split(".")[0] in CLOUD_SDKS or module == "opwatch.aws" or module == "opwatch.gcp"
            or module.startswith(tuple(a + "." for a in CLOUD_ADAPTERS))]


def import_cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    known = _modules()
    graph = {name: sorted({m for m, _ in _imports(name, path, known)
                           if m in known and m != name and not name.startswith(m + ".")})
             for name, path in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if i < len(edges):
                work.append((node, i + 1))
                nxt = edges[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_the_core_imports_no_cloud_sdk_and_no_cloud_adapter() -> None:
    assert cloud_imports_in_core() == []


def test_no_module_of_the_package_is_in_an_import_cycle() -> None:
    assert import_cycles() == []


def test_the_walk_sees_the_package_and_would_see_a_cloud_import(tmp_path: Path) -> None:
    """The walk is not vacuous: it finds the core's modules, and a lazy cloud import in one."""
    known = _modules()
    assert {"opwatch.config", "opwatch.remedies.service", "opwatch.aws.compose", "opwatch.gcp.compose"} <= set(known)
    probe = tmp_path / "probe.py"
    probe.write_text("def later():\n    import boto3\n    from ..gcp import compose\n")
    found = [m for m, _ in _imports("opwatch.remedies.probe", probe, known)]
    assert "boto3" in found and "opwatch.gcp.compose" in found
