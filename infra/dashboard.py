"""The dashboard: one per deployment (stack), a section per network: one graph per check
value (one line per target) with the threshold in its title, and the functions' errors and
durations.

The values are graphed from the finding log lines (`opwatch.logschema.finding_fields`:
`network`, `check`, `target`, `observed`) with Logs Insights, not from custom metrics: a
custom metric costs $0.30 a series a month (one per check value and target), a Logs
Insights widget $0.005 per GB it scans and only when someone looks (the check functions
write well under a GB a month). A run logs its findings when it publishes them: every run
on a schedule, and on the fast lane the first and last sample of the minute and every change
of status. Errors and durations are Lambda's own metrics (free).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct
from opwatch.checks import CHECKS
from opwatch.config import Config

from .checks import CheckFunction


def value_query(network: str, check: str, every_minutes: int) -> list[str]:
    """The Logs Insights query of one check's values on one network, one line per target.
    (Identifiers come from the config's names and check ids: letters, digits, '_' and '-'.)"""
    return [f'filter network = "{network}" and check = "{check}" and ispresent(observed)',
            f"stats max(observed) by bin({max(1, every_minutes)}m), target"]


class Dashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, config: Config,
                 functions: Sequence[CheckFunction]) -> None:
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name)
        for network in dict.fromkeys(f.network for f in functions):
            net = config.network(network)
            self.dashboard.add_widgets(cw.TextWidget(markdown=f"## {network}", width=24, height=1))
            graphs: list[cw.IWidget] = []
            for f in (f for f in functions if f.network == network):
                check = CHECKS[f.check]
                threshold = check.threshold(net)
                limit = f"{threshold.value} {threshold.unit}".strip() if threshold.value is not None else "none"
                graphs.append(cw.LogQueryWidget(
                    title=f"{network} · {check.title} · {', '.join(check.targets(net))} · threshold {limit}",
                    width=8, height=6, view=cw.LogQueryVisualizationType.LINE,
                    log_group_names=[f.function.log_group.log_group_name],
                    query_lines=value_query(network, f.check, f.every_minutes)))
            self.dashboard.add_widgets(*graphs)
            fns = [f.function.function for f in functions if f.network == network]
            self.dashboard.add_widgets(
                cw.GraphWidget(title=f"{network} · function errors", width=12, height=6,
                               left=[fn.metric_errors(statistic="Sum") for fn in fns]),
                cw.GraphWidget(title=f"{network} · function duration (p99)", width=12, height=6,
                               left=[fn.metric_duration(statistic="p99") for fn in fns]))
