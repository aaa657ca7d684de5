"""The dashboard: per network, one graph per check value (one line per target), with the
threshold drawn in, and the functions' errors and durations.

The metric of a check is named by its id, with dimensions network/check/target, exactly
as `opwatch.aws.telemetry.record_findings` emits it.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct
from opwatch.checks import CHECKS
from opwatch.config import Config

from .checks import CheckFunction


class Dashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, namespace: str, config: Config,
                 functions: Sequence[CheckFunction]) -> None:
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name)
        for network in dict.fromkeys(f.network for f in functions):
            net = config.network(network)
            self.dashboard.add_widgets(cw.TextWidget(markdown=f"## {network}", width=24, height=1))
            graphs = []
            for f in (f for f in functions if f.network == network):
                check = CHECKS[f.check]
                threshold = check.threshold(net)
                graphs.append(cw.GraphWidget(
                    title=f"{network} · {check.title}", width=8, height=6,
                    left=[cw.Metric(namespace=namespace, metric_name=f.check, label=target, statistic="Maximum",
                                    period=Duration.minutes(max(1, f.every_minutes)),
                                    dimensions_map={"network": network, "check": f.check, "target": target})
                          for target in check.targets(net)],
                    left_annotations=[cw.HorizontalAnnotation(value=float(threshold.value or 0),
                                                              label=f"threshold ({threshold.unit})")]))
            self.dashboard.add_widgets(*graphs)
            fns = [f.function.function for f in functions if f.network == network]
            self.dashboard.add_widgets(
                cw.GraphWidget(title=f"{network} · function errors", width=12, height=6,
                               left=[fn.metric_errors(statistic="Sum") for fn in fns]),
                cw.GraphWidget(title=f"{network} · function duration (p99)", width=12, height=6,
                               left=[fn.metric_duration(statistic="p99") for fn in fns]))
