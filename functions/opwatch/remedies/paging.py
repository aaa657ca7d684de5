"""Pages about the remedies themselves: a failover that stopped midway, or one a guard refused
while nobody was watching. They go straight to PagerDuty Events v2 (the alert pipeline pages
the condition; these page what the remedy did about it).

One incident per network and kind (`opwatch/<network>/remedy/failover-aborted|refused`):
PagerDuty folds repeats into the open incident, so a guard refusing every minute pages once.
They are never auto-resolved: a person confirms the network's state and resolves.
"""

from __future__ import annotations

from typing import Any

from ..redact import redact_text, redact_value
from .failover import Pager

SUMMARY_MAX = 1024  # PagerDuty's limit for payload.summary


def pagerduty_pager(client: Any) -> Pager:
    """A `Pager` over a `PagerDutyClient` (which adds the routing key and retries 429/5xx)."""

    def page(summary: str, details: dict[str, Any]) -> None:
        # A page is read by people and kept by a third party: no URL credential, whoever built it.
        summary, details = redact_text(summary), redact_value(details)
        network = str(details.get("network", "unknown"))
        remedy = str(details.get("remedy", "remedy"))
        kind = f"{remedy}-{details.get('outcome', 'alert')}"
        client.enqueue({
            "event_action": "trigger",
            "dedup_key": f"opwatch/{network}/remedy/{kind}",
            "payload": {"summary": summary[:SUMMARY_MAX], "source": "opwatch", "severity": "critical",
                        "component": remedy, "group": network, "class": "remedy",
                        "custom_details": {k: v for k, v in details.items() if k != "network"}},
        })

    return page
