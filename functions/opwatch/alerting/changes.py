"""PagerDuty change events (`POST /v2/change/enqueue`): what opwatch changed, in the timeline a
responder reads beside the incident. Never an alert: no severity, no dedup key, nobody paged.

Two senders:
- **remedies that acted**: an audit listener (`remedy_listener`) that sends one change event
  for each remedy result that changed something (`ACTED`: a top-up sent, a snapshot written,
  a failover done or stopped midway). Refusals, dry runs, skips and duplicates change nothing
  and send nothing. A change event is information: one that cannot be delivered is logged
  (redacted) and never fails or delays the remedy beyond its short retry.
- **deploys**: `python -m opwatch.alerting.changes --summary "..."` from a deploy script or CI
  step, the routing key from `OPWATCH_SECRET_PAGERDUTY` (exit 0 sent, 1 not delivered, 2 usage).

Shape (PagerDuty's reference): `routing_key`, `payload {summary ≤ 1024, source, timestamp,
custom_details}`, `links [{href, text}]`; 202 on success, 429/5xx retried like alert events.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..findings import utc_now_iso
from ..redact import redact_text, redact_value
from .pagerduty import DEFAULT_BASE_URL, SUMMARY_MAX, PagerDutyClient
from .sinks import DeliveryError, EnvSecret, SecretSource

log = logging.getLogger("opwatch.alerting")
PATH = "/v2/change/enqueue"
# Remedy outcomes that changed something (remedies/topup.py, snapshot, failover.py).
ACTED = ("sent", "done", "aborted")


def change_event(summary: str, source: str, details: dict[str, Any], timestamp: str,
                 links: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The change event body, minus the routing key (the client adds it)."""
    summary = redact_text(summary)
    return {"payload": {"summary": summary[:SUMMARY_MAX], "source": source, "timestamp": timestamp,
                        "custom_details": redact_value(details)},
            "links": [{"href": href, "text": text} for href, text in links]}


def client(routing_key: SecretSource, base_url: str | None = None) -> PagerDutyClient:
    # Two attempts, short backoff: a change event must not hold up the remedy that sent it.
    return PagerDutyClient(routing_key, base_url=base_url or DEFAULT_BASE_URL, path=PATH, attempts=2,
                           backoff=0.5, max_backoff=2.0)


def remedy_listener(sender: PagerDutyClient, docs_url: str = "docs/remediation.md") -> Callable[[dict[str, Any]], None]:
    """An `AuditLog` listener: one change event per remedy result that acted."""

    def listen(entry: dict[str, Any]) -> None:
        if entry.get("step") != "result" or entry.get("outcome") not in ACTED or entry.get("dry_run"):
            return
        details = entry.get("details") or {}
        what = f"{entry.get('remedy')} on {entry.get('network')}: {entry.get('outcome')}"
        reason = details.get("reason")
        summary = f"opwatch remedy {what}" + (f" ({reason})" if reason else "")
        body = change_event(summary, f"opwatch/{entry.get('network')}/remedy/{entry.get('remedy')}",
                            {"request_id": entry.get("request_id"), "approved_by": entry.get("approved_by"),
                             "finding": entry.get("finding"), "caller": entry.get("caller"), **details},
                            str(entry.get("at") or utc_now_iso()),
                            [(docs_url, "opwatch remediation")] if docs_url.startswith("http") else ())
        try:
            sender.enqueue(body)
        except Exception as exc:  # information only: never fail a remedy that already acted
            log.warning("change event for %s not delivered: %s", what,
                        redact_text(str(exc) if isinstance(exc, DeliveryError) else type(exc).__name__))

    return listen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opwatch.alerting.changes",
        description="Send a PagerDuty change event (e.g. a deploy of opwatch) to the service whose routing key "
                    "is in OPWATCH_SECRET_PAGERDUTY. Exit codes: 0 sent, 1 not delivered, 2 usage.")
    parser.add_argument("--summary", required=True, help="what changed (≤ 1024 characters)")
    parser.add_argument("--source", default="opwatch/deploy", help="where it changed (default: opwatch/deploy)")
    parser.add_argument("--detail", action="append", default=[], metavar="KEY=VALUE", help="custom detail (repeat)")
    parser.add_argument("--link", action="append", default=[], metavar="URL", help="a link, e.g. the CI run (repeat)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="the Events API (a stand-in in tests)")
    args = parser.parse_args(argv)
    details = dict(d.partition("=")[::2] for d in args.detail)
    body = change_event(args.summary, args.source, details, utc_now_iso(), [(u, "details") for u in args.link])
    try:
        client(EnvSecret("pagerduty"), args.base_url).enqueue(body)
    except DeliveryError as exc:
        print(f"change event not delivered: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    print("change event sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
