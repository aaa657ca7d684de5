"""The real Prometheus (Debian's `prometheus` package, installed by scripts/bootstrap), started by
a test on a free loopback port with its own config and storage, and its HTTP query API.

A missing binary fails the test with the set-up step to run: it is never a silent skip.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if not found:
        pytest.fail(f"'{name}' is not installed: run scripts/bootstrap as root (it apt-installs Debian's "
                    "prometheus and prometheus-alertmanager packages)", pytrace=False)
    return found


def exported_metric_names() -> set[str]:
    """Every metric name `opwatch watch --listen` can serve (the exporter's own registry)."""
    from opwatch.cli.metrics import Exporter

    class _NoNetworks:
        networks: dict[str, object] = {}

    registry = Exporter(_NoNetworks()).registry  # type: ignore[arg-type]
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(f"{family.name}{suffix}" for suffix in ("_total", "_created") if family.type == "counter")
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the vector's samples as {"metric": labels, "value": float}."""
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return [{"metric": r["metric"], "value": float(r["value"][1])} for r in body["data"]["result"]]

    def wait_for(self, promql: str, accept: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 90.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if accept(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql}: not as expected within {timeout:.0f} s; last: {result}")
            time.sleep(0.5)


@contextmanager
def running_prometheus(workdir: Path, targets: list[str], interval: str = "1s") -> Iterator[Prometheus]:
    """Our own prometheus process (not the package's system service, if one runs)."""
    exe = binary("prometheus")
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        "scrape_configs:\n  - job_name: opwatch\n    static_configs:\n"
        f"      - targets: {json.dumps(targets)}\n")
    (workdir / "data").mkdir(exist_ok=True)
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen([exe, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prometheus did not become ready: {(workdir / 'prometheus.log').read_text()}")
            time.sleep(0.2)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
