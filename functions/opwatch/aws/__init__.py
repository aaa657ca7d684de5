"""AWS Lambda adapters: thin handlers over the core, and the AWS seams they need.

- `check_handler` (EventBridge Scheduler → one check on one network → SNS findings topic)
- `pager_handler` (SNS findings → alert lifecycle in DynamoDB → PagerDuty)
- `publisher` (SNS), `secrets` (Secrets Manager through Powertools Parameters),
  `telemetry` (Powertools Logger, Metrics, Tracer), `events` (typed event shapes),
  `runtime` (what a function reads from its environment).

The core never imports from here. boto3 is imported lazily, only in these modules.
"""
