"""The dashboard: one per deployment (stack; more only past CloudWatch's 500 widgets), a
section per network: one graph per check value (one line per target) with the threshold in
its title, and the functions' errors and durations (once for the functions every network
shares, `[aws] layout = "per_check"`; per network for a network's own functions).

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
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from opwatch.checks import CHECKS
from opwatch.config import Config

from .checks import CheckFunction


def value_query(network: str, check: str, every_minutes: int) -> list[str]:
    """The Logs Insights query of one check's values on one network, one line per target.
    (Identifiers come from the config's names and check ids: letters, digits, '_' and '-'.)"""
    return [f'filter network = "{network}" and check = "{check}" and ispresent(observed)',
            f"stats max(observed) by bin({max(1, every_minutes)}m), target"]


# CloudWatch allows 500 widgets on one dashboard: a deployment that needs more gets more
# dashboards (`<name>`, `<name>-2`, ...), whole network sections each.
MAX_WIDGETS = 500


class Dashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, config: Config,
                 functions: Sequence[CheckFunction]) -> None:
        super().__init__(scope, id)
        self.dashboards: list[cw.Dashboard] = []
        rows: list[list[cw.IWidget]] = []
        shared = [f for f in functions if len(f.networks) > 1]
        if shared:  # functions that serve several networks: their errors and durations once
            rows += [[cw.TextWidget(markdown="## check functions (every network)", width=24, height=1)],
                     self._health("check functions", [f.function.function for f in shared])]
        for network in dict.fromkeys(n for f in functions for n in f.networks):
            net = config.network(network)
            section: list[list[cw.IWidget]] = [[cw.TextWidget(markdown=f"## {network}", width=24, height=1)]]
            graphs: list[cw.IWidget] = []
            for f in (f for f in functions if network in f.networks):
                check = CHECKS[f.check]
                threshold = check.threshold(net)
                limit = f"{threshold.value} {threshold.unit}".strip() if threshold.value is not None else "none"
                graphs.append(cw.LogQueryWidget(
                    title=f"{network} · {check.title} · {', '.join(check.targets(net))} · threshold {limit}",
                    width=8, height=6, view=cw.LogQueryVisualizationType.LINE,
                    log_group_names=[f.function.log_group.log_group_name],
                    query_lines=value_query(network, f.check, f.every_minutes)))
            section.append(graphs)
            own = [f.function.function for f in functions if f.networks == (network,)]
            if own:
                section.append(self._health(network, own))
            if sum(map(len, rows)) + sum(map(len, section)) > MAX_WIDGETS:
                self._flush(name, rows)
                rows = []
            rows += section
        self._flush(name, rows or [[]])  # a deployment always has its dashboard, even an empty one
        self.dashboard = self.dashboards[0]

    @staticmethod
    def _health(title: str, fns: Sequence[lambda_.IFunction]) -> list[cw.IWidget]:
        return [cw.GraphWidget(title=f"{title} · function errors", width=12, height=6,
                               left=[fn.metric_errors(statistic="Sum") for fn in fns]),
                cw.GraphWidget(title=f"{title} · function duration (p99)", width=12, height=6,
                               left=[fn.metric_duration(statistic="p99") for fn in fns])]

    def _flush(self, name: str, rows: list[list[cw.IWidget]]) -> None:
        if not rows:  # nothing gathered yet (a first section that alone is over the limit)
            return
        n = len(self.dashboards) + 1
        board = cw.Dashboard(self, "Dashboard" if n == 1 else f"Dashboard{n}",
                             dashboard_name=name if n == 1 else f"{name}-{n}")
        for row in rows:
            if row:
                board.add_widgets(*row)
        self.dashboards.append(board)
