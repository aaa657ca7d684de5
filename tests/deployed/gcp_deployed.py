"""Run the Cloud Functions exactly as the gcloud plan deploys them, under the real functions-framework.

`render(config)` runs `opwatch gcp deploy --dry-run` and `bundle(config, out)` runs `opwatch gcp
bundle`, the commands an operator runs. `GcpPlan` reads the rendered script back with shlex:
- each `gcloud functions deploy` gives a function's name, entry point, trigger (topic or HTTP),
  timeout and `--set-env-vars` (both of gcloud's delimiter syntaxes);
- each `gcloud pubsub subscriptions create` gives a subscription's topic, filter and push
  endpoint, each `gcloud scheduler jobs create pubsub` the body its tick carries;
- the secrets the plan requires to exist.
`GcpFunction` then serves one function from the bundle in its own `functions-framework`
process (as Cloud Functions gen2 runs it) with exactly the plan's environment. The only
additions say where Google's APIs are (`OPWATCH_PUBSUB_ENDPOINT`, `OPWATCH_SECRETMANAGER_ENDPOINT`,
`OPWATCH_STORAGE_ENDPOINT`: the stand-ins) and where PagerDuty is (`OPWATCH_PAGERDUTY_URL`):
destinations, never behaviour. Pub/Sub's own part (a subscription's filter, then the push body
to its endpoint) is played by `deliver`, with the filter the plan rendered.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")  # a process's basics; nothing else of the test's


def render(config: Path) -> str:
    """What `opwatch gcp deploy --dry-run` prints for `config`."""
    done = subprocess.run([str(BIN / "opwatch"), "gcp", "deploy", "--dry-run", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def bundle(config: Path, out: Path) -> Path:
    """The folder `gcloud functions deploy --source` uploads, made by `opwatch gcp bundle`."""
    done = subprocess.run([str(BIN / "opwatch"), "gcp", "bundle", "--config", str(config), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)


def _env_vars(value: str) -> dict[str, str]:
    """gcloud's `K=V,K=V`, or `^|^K=V|K=V` (the alternate delimiter, when values hold commas)."""
    sep = ","
    if value.startswith("^"):
        sep, value = value[1:].split("^", 1)
    return dict(pair.split("=", 1) for pair in value.split(sep) if pair)


@dataclass(frozen=True)
class PlannedFunction:
    name: str
    entry_point: str
    env: dict[str, str]
    trigger_topic: str  # "" for an HTTP function
    timeout_s: int


@dataclass(frozen=True)
class Subscription:
    name: str  # projects/P/subscriptions/S, as a push body names it
    topic: str
    filter: str
    push_endpoint: str


class GcpPlan:
    def __init__(self, script: str) -> None:
        self.script = script
        self.commands: list[list[str]] = []
        for line in script.splitlines():
            words = shlex.split(line.strip(), comments=True) if line.strip().startswith("gcloud ") else []
            for i, w in enumerate(words):  # `describe ... >/dev/null 2>&1 || create`: each command apart
                if w in ("||", "&&", ">/dev/null", "2>&1"):
                    words = words[:i]
                    break
            if words:
                self.commands.append(words)

    @property
    def project(self) -> str:
        return _flags(self.commands[0])["project"]

    def functions(self) -> dict[str, PlannedFunction]:
        out = {}
        for argv in self.commands:
            if argv[1:3] == ["functions", "deploy"]:
                f = _flags(argv)
                out[argv[3]] = PlannedFunction(argv[3], f["entry-point"], _env_vars(f.get("set-env-vars", "")),
                                               f.get("trigger-topic", ""), int(f["timeout"].removesuffix("s")))
        return out

    def subscriptions(self) -> dict[str, Subscription]:
        out = {}
        for argv in self.commands:
            if argv[1:4] == ["pubsub", "subscriptions", "create"]:
                f = _flags(argv)
                out[argv[4]] = Subscription(f"projects/{self.project}/subscriptions/{argv[4]}",
                                            f"projects/{self.project}/topics/{f['topic']}",
                                            f.get("message-filter", ""), f.get("push-endpoint", ""))
        return out

    def tick_body(self, trigger_topic: str) -> bytes:
        """The body the Cloud Scheduler job publishing to `trigger_topic` carries."""
        for argv in self.commands:
            if argv[1:5] == ["scheduler", "jobs", "create", "pubsub"] and _flags(argv)["topic"] == trigger_topic:
                return _flags(argv)["message-body"].encode()
        raise AssertionError(f"no scheduler job publishes to {trigger_topic}")

    def subscription_to(self, function: str) -> Subscription:
        [sub] = [s for s in self.subscriptions().values() if s.push_endpoint.endswith(f"/{function}")]
        return sub


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GcpFunction:
    """One function of the plan served by functions-framework from the bundle."""

    def __init__(self, fn: PlannedFunction, source: Path, destinations: dict[str, str], log: Path) -> None:
        self.fn, self.log = fn, log
        self.port = _free_port()
        base = {k: v for k, v in os.environ.items() if k in PASSED}
        self.proc = subprocess.Popen(
            [str(BIN / "functions-framework"), "--target", fn.entry_point, "--source", str(source / "main.py"),
             "--signature-type", "cloudevent" if fn.trigger_topic else "http", "--host", "127.0.0.1",
             "--port", str(self.port)],
            cwd=source, env={**base, **fn.env, **destinations, "PYTHONPATH": str(source)},
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60  # generous: an import on a busy machine is not the behaviour
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert self.proc.poll() is None, log.read_text()
                time.sleep(0.1)
        raise AssertionError(f"{fn.name} did not start: {log.read_text()}")

    def post(self, body: bytes, headers: dict[str, str], timeout_s: float | None = None) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.fn.timeout_s + 60) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def post_json(self, body: Any) -> tuple[int, Any]:
        """An HTTP function called by hand (an operator's POST): its status and JSON reply."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.fn.timeout_s + 60) as reply:
                return int(reply.status), json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read() or b"null")

    def tick(self, plan: GcpPlan, event_id: str) -> int:
        """What Eventarc POSTs when the function's scheduler job fires: a structured CloudEvent."""
        data = {"message": {"data": base64.b64encode(plan.tick_body(self.fn.trigger_topic)).decode(),
                            "attributes": {}, "messageId": event_id, "publishTime": "2024-01-01T00:00:00Z"},
                "subscription": f"projects/{plan.project}/subscriptions/eventarc-{self.fn.name}"}
        event = {"specversion": "1.0", "id": event_id, "type": "google.cloud.pubsub.topic.v1.messagePublished",
                 "source": f"//pubsub.googleapis.com/projects/{plan.project}/topics/{self.fn.trigger_topic}",
                 "datacontenttype": "application/json", "time": "2024-01-01T00:00:00Z", "data": data}
        return self.post(json.dumps(event).encode(), {"Content-Type": "application/cloudevents+json"})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def deliver(fn: GcpFunction, subscription: Subscription, message: Any) -> bool:
    """Pub/Sub's part: the subscription's rendered filter, then the push body to the function.
    False when the filter drops the message."""
    from opwatch.gcp.filters import matches

    if subscription.filter and not matches(subscription.filter, message.attributes):
        return False
    body = json.dumps(message.envelope(subscription.name)).encode()
    status = fn.post(body, {"Content-Type": "application/json"})
    assert status == 200, (status, fn.log.read_text()[-4000:])
    return True
