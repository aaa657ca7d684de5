"""The GCP self-watch: Cloud Monitoring alert policies on the deployment itself, as AWS has
CloudWatch alarms (infra/monitoring.py). Rendered into the gcloud plan (gcp_plan.py).

- **function errors**: any opwatch function answering 5xx (an unhandled error or a timeout:
  gen2 functions are Cloud Run services, and a failed event delivery is a 5xx response) in
  a 5-minute window, one time series per function, so the incident names it.
- **dead letters**: any message waiting on the dead-letter subscription `<prefix>-findings-dead`
  (findings the pager or a remedy could not take after `max_delivery_attempts`).

Notifications go to e-mail channels from `[gcp] alarm_emails` (mirroring `[aws] alarm_emails`);
without any, the policies still open incidents in the console.

Cost (bench/monthly.py): Cloud Monitoring bills alerting per condition ($0.10 a month) and
per time series its queries return ($0.35 a million); both policies are one condition each,
over every function at once, so the price does not grow with the number of networks.

The commands are gcloud's `alpha monitoring` group: `monitoring policies` is GA only in recent
SDKs (528 has it in alpha alone), and channels have no GA command.

Policies and channels get their ids from the server, so the step that converges them looks
them up by display name (policies) or address (channels) before it creates or updates: one
`bash -c` whose script is a constant, with the project, the addresses and the policies
passed as positional arguments, never spliced into the script.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .gcp import EMAIL, GcpSettings

WINDOW_S = 300
# One line, so the rendered plan stays one command per line (tests/unit/test_gcp_plan_hostile.py).
CONVERGE = (
    'set -euo pipefail; project=$1; emails=$2; shift 2; channels=""; '
    'for email in ${emails//,/ }; do '
    'name=$(gcloud alpha monitoring channels list --project="$project" '
    '--filter="type=\\"email\\" AND labels.email_address=\\"$email\\"" --format="value(name)" --limit=1); '
    'if [ -z "$name" ]; then name=$(gcloud alpha monitoring channels create --project="$project" --type=email '
    '--display-name="opwatch self-watch: $email" --channel-labels="email_address=$email" --format="value(name)"); fi; '
    'channels="${channels:+$channels,}$name"; done; '
    'while [ $# -gt 0 ]; do title=$1; policy=$2; shift 2; '
    'name=$(gcloud alpha monitoring policies list --project="$project" --filter="displayName=\\"$title\\"" '
    '--format="value(name)" --limit=1); '
    'if [ -n "$name" ]; then gcloud alpha monitoring policies update "$name" --project="$project" --policy="$policy" '
    '${channels:+--set-notification-channels="$channels"}; '
    'else gcloud alpha monitoring policies create --project="$project" --policy="$policy" '
    '${channels:+--notification-channels="$channels"}; fi; done'
)


def _threshold(name: str, filter_: str, aligner: str, reducer: str = "",
               group_by: Sequence[str] = ()) -> dict[str, Any]:
    aggregation: dict[str, Any] = {"alignmentPeriod": f"{WINDOW_S}s", "perSeriesAligner": aligner}
    if reducer:
        aggregation |= {"crossSeriesReducer": reducer, "groupByFields": list(group_by)}
    return {"displayName": name, "conditionThreshold": {
        "filter": filter_, "aggregations": [aggregation], "comparison": "COMPARISON_GT", "thresholdValue": 0,
        "duration": "0s", "trigger": {"count": 1}}}


def function_errors(s: GcpSettings) -> dict[str, Any]:
    return {
        "displayName": f"{s.prefix}: function errors",
        "documentation": {"mimeType": "text/markdown", "content": (
            "An opwatch function failed (unhandled error or timeout): its check, pager or remedy did not run "
            "to the end. Read the logs of the function (`gcloud functions logs read <name>`); docs/gcp.md.")},
        "combiner": "OR",
        "conditions": [_threshold(
            "a function answered 5xx",
            'resource.type = "cloud_run_revision" AND metric.type = "run.googleapis.com/request_count" '
            f'AND metric.labels.response_code_class = "5xx" AND resource.labels.service_name = '
            f'starts_with("{s.prefix}-")',
            "ALIGN_SUM", "REDUCE_SUM", ["resource.label.service_name"])],
        "alertStrategy": {"autoClose": "1800s"},
    }


def dead_letters(s: GcpSettings) -> dict[str, Any]:
    dead = s.name("findings", "dead")
    return {
        "displayName": f"{s.prefix}: dead letters",
        "documentation": {"mimeType": "text/markdown", "content": (
            f"Findings were dropped after every delivery attempt: see the pull subscription `{dead}` "
            "(`gcloud pubsub subscriptions pull` it) and the logs of the pager or remedy; docs/gcp.md.")},
        "combiner": "OR",
        "conditions": [_threshold(
            "a message on the dead-letter subscription",
            'resource.type = "pubsub_subscription" AND metric.type = '
            f'"pubsub.googleapis.com/subscription/num_undelivered_messages" AND '
            f'resource.labels.subscription_id = "{dead}"',
            "ALIGN_MAX")],
        "alertStrategy": {"autoClose": "1800s"},
    }


def policies(s: GcpSettings) -> list[dict[str, Any]]:
    return [function_errors(s), dead_letters(s)]


def conditions(s: GcpSettings) -> int:
    """What Cloud Monitoring bills per month (bench/monthly.py)."""
    return sum(len(p["conditions"]) for p in policies(s))


def converge_argv(s: GcpSettings, emails: Sequence[str]) -> tuple[str, ...]:
    """`bash -c CONVERGE self-watch <project> <a@x,b@y> <title> <policy json> ...`"""
    for email in emails:
        if not EMAIL.fullmatch(email):
            raise ValueError(f"gcp.alarm_emails: {email!r} is not an e-mail address")
    pairs = [part for p in policies(s) for part in (p["displayName"], json.dumps(p, separators=(",", ":")))]
    return ("bash", "-c", CONVERGE, "self-watch", s.project, ",".join(emails), *pairs)
