"""One opwatch stack per environment: everything the functions need, from the one config.

Remediation functions are not part of the stack yet: `opwatch.remedies` has no Lambda
entry point nor the per-remedy permission declarations (`remedies.permissions`) that
their least-privilege roles are to be derived from (see docs/aws.md, "Not yet deployed").
"""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct
from opwatch.config import Config
from opwatch.deploy.aws import Environment

from .bundling import lambda_code
from .checks import Checks
from .dashboard import Dashboard
from .findings import FindingsTopic
from .keys import StackKey
from .monitoring import SelfWatch
from .pager import Pager
from .queues import dead_letter_queue
from .secrets import Secrets
from .state import StateTables


class OpwatchStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: Config, config_text: str, environment: Environment,
                 **kwargs: object) -> None:
        super().__init__(scope, id, description=f"opwatch watchdog ({environment.name}): "
                                                f"{', '.join(environment.networks)}", **kwargs)  # type: ignore[arg-type]
        settings = config.section("aws")
        key = StackKey(self, "Key", env_name=environment.name).key
        code = lambda_code(config_text)
        tables = StateTables(self, "State", key=key)
        secrets = Secrets(self, "Secrets", environment=environment, key=key)
        findings = FindingsTopic(self, "Findings", key=key, subscriptions=settings.subscriptions)
        watch = SelfWatch(self, "SelfWatch", key=key, settings=settings)
        async_dlq = dead_letter_queue(self, "AsyncInvokeDlq")
        scheduler_dlq = dead_letter_queue(self, "SchedulerDlq")

        self.checks = Checks(self, "Checks", config=config, environment=environment, settings=settings, code=code,
                             key=key, topic=findings.topic, rpc_endpoints=secrets.rpc_endpoints,
                             async_dlq=async_dlq, scheduler_dlq=scheduler_dlq)
        self.pager = Pager(self, "Pager", env_name=environment.name, networks=environment.networks,
                           settings=settings, code=code, key=key, topic=findings.topic, tables=tables,
                           routing_key=secrets.pagerduty_routing_key, async_dlq=async_dlq)

        for f in self.checks.functions:
            watch.watch_function(f.function, f.function.name, f.function.function)
            watch.watch_heartbeat(f.function, f.function.name, f.network, f.check, f.every_minutes)
        watch.watch_function(self.pager.fn, self.pager.fn.name, self.pager.fn.function)
        queues = {"async-invoke": async_dlq, "scheduler": scheduler_dlq, "pager-subscription":
                  self.pager.dead_letter_queue, "alarm-subscription": watch.dead_letter_queue,
                  **findings.dead_letter_queues}
        for name, queue in queues.items():
            watch.watch_queue(queue, name, queue)
        Dashboard(self, "Dashboard", name=f"opwatch-{environment.name}", namespace=settings.namespace,
                  config=config, functions=self.checks.functions)
        self.findings_topic = findings.topic
        self.alarm_topic = watch.topic
