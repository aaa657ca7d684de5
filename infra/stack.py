"""One opwatch stack per environment: everything the functions need, from the one config."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct
from opwatch.config import Config
from opwatch.deploy.aws import Environment

from .bundling import lambda_code
from .checks import Checks, networks_label
from .dashboard import Dashboard
from .findings import FindingsTopic
from .heartbeat import Heartbeat
from .keys import StackKey
from .monitoring import SelfWatch
from .pager import Pager
from .queues import dead_letter_queue
from .remedies import Remedies
from .secrets import Secrets
from .state import StateTables


class OpwatchStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: Config, config_text: str, environment: Environment,
                 **kwargs: object) -> None:
        # CloudFormation caps a description at 1024 bytes: many networks are counted, not listed.
        super().__init__(scope, id, description=f"opwatch watchdog ({environment.name}): "
                                                f"{networks_label(environment.networks)}", **kwargs)  # type: ignore[arg-type]
        settings = config.section("aws")
        key = StackKey(self, "Key", env_name=environment.name).key
        code = lambda_code(config_text)
        tables = StateTables(self, "State", key=key)
        secrets = Secrets(self, "Secrets", environment=environment, key=key,
                          funder_secret_id=_funder_secret_id(config, environment))
        findings = FindingsTopic(self, "Findings", key=key, subscriptions=settings.subscriptions)
        watch = SelfWatch(self, "SelfWatch", key=key, settings=settings)
        async_dlq = dead_letter_queue(self, "AsyncInvokeDlq")
        scheduler_dlq = dead_letter_queue(self, "SchedulerDlq")

        self.checks = Checks(self, "Checks", config=config, environment=environment, settings=settings, code=code,
                             key=key, topic=findings.topic, rpc_endpoints=secrets.rpc_endpoints,
                             async_dlq=async_dlq, scheduler_dlq=scheduler_dlq, memory_table=tables.alerts)
        self.heartbeat = Heartbeat(self, "Heartbeat", config=config, settings=settings, environment=environment,
                                   functions=self.checks.functions)
        self.pager = Pager(self, "Pager", env_name=environment.name, networks=environment.networks,
                           settings=settings, code=code, key=key, topic=findings.topic, tables=tables,
                           routing_key=secrets.pagerduty_routing_key, async_dlq=async_dlq,
                           sink_secrets=[s.secret for s in config.section("alerting").sinks.values() if s.secret])
        self.remedies = Remedies(self, "Remedies", config=config, config_text=config_text, environment=environment,
                                 settings=settings, code=code, key=key, topic=findings.topic, tables=tables,
                                 funder_secret=secrets.funder_key, routing_key=secrets.pagerduty_routing_key,
                                 rpc_endpoints=secrets.rpc_endpoints, async_dlq=async_dlq)

        for f in self.checks.functions:
            watch.watch_function(f.function, f.function.name, f.function.function)
            watch.watch_heartbeat(f.function, f.function.name, f.function.function, f.label, f.check,
                                  f.every_minutes)
            if not settings.check_metrics:  # nothing in the stack reads them: aws/telemetry.py
                f.function.function.add_environment("POWERTOOLS_METRICS_DISABLED", "true")
        for fn in (self.pager.fn, *self.remedies.functions.values()):
            watch.watch_function(fn, fn.name, fn.function)
        queues = {"async-invoke": async_dlq, "scheduler": scheduler_dlq, "pager-subscription":
                  self.pager.dead_letter_queue, "alarm-subscription": watch.dead_letter_queue,
                  **findings.dead_letter_queues, **self.remedies.dead_letter_queues}
        for name, queue in queues.items():
            watch.watch_queue(queue, name, queue)
        Dashboard(self, "Dashboard", name=f"opwatch-{environment.name}", config=config,
                  functions=self.checks.functions)
        # Where the remedies' audit log is (`opwatch audit --store dynamodb:<this>`, docs/aws.md).
        CfnOutput(self, "RemedyTable", value=tables.remedies.table_name,
                  description="Remedy state: caps, claims, the failover lease and the audit log")
        # Where the pager's alert state and stored silences are (`opwatch alerts|silence --store dynamodb:<this>`).
        CfnOutput(self, "AlertTable", value=tables.alerts.table_name,
                  description="Alert state, transitions, dead letters and silences the pager reads")
        self.findings_topic = findings.topic
        self.alarm_topic = watch.topic


def _funder_secret_id(config: Config, environment: Environment) -> str | None:
    """The Secrets Manager id the top-up policies of this environment's networks read the funder key from."""
    remediation = config.section("remediation")
    scheme = "aws-secretsmanager:"
    topups = [p.topup for n in environment.networks if (p := remediation.for_network(n)).topup is not None]
    refs = {str(t.secret)[len(scheme):] for t in topups if str(t.secret).startswith(scheme)}
    if len(refs) > 1:
        raise ValueError(f"{environment.name}: top-up policies read different funder secrets "
                         f"({', '.join(sorted(refs))}); one funder key per environment")
    return refs.pop() if refs else None
