"""AWS Lambda adapters: thin handlers over the core, and the AWS seams they need.

- `check_handler` (EventBridge Scheduler → one check on one network → SNS findings topic)
- `pager_handler` (SNS findings → alert lifecycle in DynamoDB → PagerDuty)
- `publisher` (SNS), `secrets` (Secrets Manager through Powertools Parameters),
  `telemetry` (Powertools Logger, Metrics), `tracing` (the Tracer, pager and remedies only),
  `events` (typed event shapes),
  `runtime` (what a function reads from its environment).
- `client` (the one AWS boundary: lazy clients, `AwsError`, redaction), `backends` (what this
  adapter registers under the config's names), `compose` (the runtime's composition root),
  `alert_store` / `remedy_store` (DynamoDB), `snapshots` (S3, EBS), `restore` (EBS launcher,
  Route 53 switch), `signer` (KMS).

The core never imports from here (tests/unit/test_architecture.py). boto3 is imported lazily,
only in these modules.
"""
