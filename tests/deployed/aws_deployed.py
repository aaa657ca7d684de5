"""Run the Lambda functions exactly as `cdk deploy` ships them, against moto server.

`synthesize(config)` runs the CDK app (with bundling: the real asset, built without Docker)
and keeps the template and the cloud assembly folder. `AwsDeployment` then
- creates in moto what the template declares and the functions reach: the SNS topics, the
  DynamoDB tables (their key schemas from the template) and the secrets (created ones under
  their logical id; imported ones under the name their ARN gives, which moto resolves);
- gives each function its Handler, its Environment with every `Ref` resolved to the moto
  resource, and `/var/task/` (Lambda's code root) mapped to its asset folder, so
  `OPWATCH_CONFIG` is the config file bundled in the asset;
- invokes the handler in a process of its own (lambda_worker.py: moto cannot run Lambda code
  without Docker), one per function, kept warm between invocations as a Lambda container
  is. That process imports `opwatch` from the asset (its `PYTHONPATH` names a folder whose
  `opwatch` is the asset's; the worker refuses to run otherwise), so the code that runs is
  the bundled code even when the checkout changed after the synth; the asset's third-party
  packages are built for Lambda's platform, so those come from this interpreter. Its
  environment is the function's and nothing of this process's but PATH, HOME and locale.

The only additions to a function's environment are the ones that say where AWS is
(`AWS_ENDPOINT_URL` and test credentials, for moto) and where PagerDuty is
(`PAGERDUTY_BASE_URL`, for the Events v2 stand-in): destinations, never behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REGION = "us-east-1"
TASK_ROOT = "/var/task/"


def synthesize(config: Path, outdir: Path) -> dict[str, Any]:
    """Synthesize the CDK app from `config` with bundling; returns {stack name: template}."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    sys.path.insert(0, str(ROOT))
    from aws_cdk import App

    import app as opwatch_app

    assembly = opwatch_app.build(App(outdir=str(outdir), context={"config": str(config), "nag": "false"})).synth()
    return {s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    handler: str
    environment: dict[str, Any]  # as in the template (Refs unresolved)
    asset: Path
    timeout_s: int


class AwsDeployment:
    def __init__(self, template: dict[str, Any], outdir: Path, client: Callable[[str], Any]) -> None:
        self.template = template
        self.outdir = outdir
        self.client = client
        self.resolved: dict[str, str] = {}
        self.lock = threading.Lock()
        self.workers: dict[str, LambdaWorker] = {}

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r.get("Properties", {}) for k, r in self.template["Resources"].items() if r["Type"] == kind}

    def functions(self) -> dict[str, DeployedFunction]:
        out = {}
        for props in self.resources("AWS::Lambda::Function").values():
            key = props["Code"]["S3Key"]
            asset = self.outdir / f"asset.{key.removesuffix('.zip')}"
            assert asset.is_dir(), f"no bundled asset for {props['FunctionName']} ({key})"
            out[props["FunctionName"]] = DeployedFunction(props["FunctionName"], props["Handler"],
                                                          props["Environment"]["Variables"], asset, props["Timeout"])
        return out

    def provision(self, secret_values: dict[str, str]) -> None:
        """Create in moto what the functions reach. `secret_values`: logical id or imported
        secret name → value."""
        for logical, props in self.resources("AWS::SNS::Topic").items():
            self.resolved[logical] = self.client("sns").create_topic(Name=props.get("TopicName", logical))["TopicArn"]
        for logical, props in self.resources("AWS::DynamoDB::Table").items():
            name = props.get("TableName", logical)
            extra = {}
            if props.get("GlobalSecondaryIndexes"):
                extra["GlobalSecondaryIndexes"] = [{k: v for k, v in g.items() if k != "ProvisionedThroughput"}
                                                   for g in props["GlobalSecondaryIndexes"]]
            self.client("dynamodb").create_table(TableName=name, KeySchema=props["KeySchema"],
                                                 AttributeDefinitions=props["AttributeDefinitions"],
                                                 BillingMode="PAY_PER_REQUEST", **extra)
            self.resolved[logical] = name
        for logical, props in self.resources("AWS::SecretsManager::Secret").items():
            name = props.get("Name", logical)
            arn = self.client("secretsmanager").create_secret(
                Name=name, SecretString=secret_values.get(logical, "placeholder"))["ARN"]
            self.resolved[logical] = arn
        for fn in self.functions().values():  # imported secrets: ARN literals in the environment
            for value in fn.environment.values():
                if isinstance(value, str) and value.startswith("arn:aws:secretsmanager:"):
                    name = value.rsplit(":", 1)[1]
                    if name in secret_values and name not in self.resolved:
                        self.client("secretsmanager").create_secret(Name=name, SecretString=secret_values[name])
                        self.resolved[name] = value

    def logical_id(self, prefix: str) -> str:
        [found] = [k for k in self.template["Resources"] if k.startswith(prefix)]
        return found

    def environment(self, fn: DeployedFunction) -> dict[str, str]:
        env = {}
        for name, value in fn.environment.items():
            if isinstance(value, dict) and "Ref" in value:
                value = self.resolved[value["Ref"]]
            assert isinstance(value, str), f"{fn.name}: {name} = {value!r} is not resolvable here"
            env[name] = str(fn.asset / value.removeprefix(TASK_ROOT)) if value.startswith(TASK_ROOT) else value
        return env

    def invoke(self, fn: DeployedFunction, event: dict[str, Any], destinations: dict[str, str],
               remaining_s: float | None = None) -> Any:
        """Call the function's handler in its container (started on first use with exactly its
        environment plus `destinations`); returns what the handler returned, raises what it raised."""
        with self.lock:
            worker = self.workers.get(fn.name)
            if worker is None:
                worker = self.workers[fn.name] = LambdaWorker.start(fn, {**self.environment(fn), **destinations},
                                                                   self.outdir)
        return worker.invoke(event, remaining_s or fn.timeout_s)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.workers.clear()


# What a Lambda container has besides the function's environment: where AWS is (moto, test
# credentials) and the basics a process needs. Nothing else of the test process leaks in.
PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "POWERTOOLS_TRACE_DISABLED")


class LambdaWorker:
    """A warm container: one lambda_worker.py process serving one function's invocations in turn."""

    def __init__(self, fn: DeployedFunction, proc: subprocess.Popen[str], log: Path) -> None:
        self.fn, self.proc, self.log = fn, proc, log
        self.lock = threading.Lock()
        self.count = 0

    @classmethod
    def start(cls, fn: DeployedFunction, env: dict[str, str], outdir: Path) -> LambdaWorker:
        task = outdir / f"task.{fn.name}"
        task.mkdir(exist_ok=True)
        for name in ("opwatch", "opwatch.toml"):  # /var/task's layout: the package and the config beside it
            if not (task / name).exists():
                (task / name).symlink_to(fn.asset / name)
        base = {k: v for k, v in os.environ.items() if k in PASSED}
        log = outdir / f"{fn.name}.log"
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "lambda_worker.py"), fn.handler, fn.name, str(fn.asset)],
            env={**base, "AWS_REGION": REGION, "AWS_LAMBDA_FUNCTION_NAME": fn.name, **env, "PYTHONPATH": str(task)},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("a"), text=True, cwd=str(fn.asset))
        return cls(fn, proc, log)

    def invoke(self, event: dict[str, Any], remaining_s: float) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:  # a container serves one invocation at a time
            self.count += 1
            request = {"event": event, "remaining_ms": int(remaining_s * 1000), "request_id": f"req-{self.count}"}
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{self.fn.name} exited: {self.log.read_text()[-4000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise InvocationError(f"{self.fn.name}: {reply['error']}")
        return reply["result"]

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class InvocationError(Exception):
    """The handler raised (Lambda reports the invocation as failed)."""


def subscribe_queue(deployment: AwsDeployment, topic_arn: str, name: str, policy: dict[str, Any] | None) -> str:
    sqs = deployment.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attrs = {"FilterPolicy": json.dumps(policy)} if policy else {}
    deployment.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attrs)
    return str(url)


def receive(deployment: AwsDeployment, url: str, wait_s: int = 1) -> Iterator[dict[str, Any]]:
    sqs = deployment.client("sqs")
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        yield json.loads(m["Body"])


def sns_lambda_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda SNS event for a message SNS delivered (the envelope in Lambda's record shape)."""
    sns = {k: v for k, v in envelope.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
    sns["SigningCertUrl"] = envelope.get("SigningCertURL", "")
    sns["UnsubscribeUrl"] = envelope.get("UnsubscribeURL", "")
    sns.setdefault("Subject", None)
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
                         "Sns": sns}]}


def pager_filter(deployment: AwsDeployment, pager_name: str) -> dict[str, Any] | None:
    """The filter policy of the template's subscription that delivers to the pager function."""
    [logical] = [k for k, p in deployment.resources("AWS::Lambda::Function").items()
                 if p["FunctionName"] == pager_name]
    for props in deployment.resources("AWS::SNS::Subscription").values():
        endpoint = props.get("Endpoint")
        if isinstance(endpoint, dict) and endpoint.get("Fn::GetAtt", [None])[0] == logical:
            policy = props.get("FilterPolicy")
            return policy if isinstance(policy, dict) else None
    raise AssertionError(f"no subscription delivers to {pager_name}")
