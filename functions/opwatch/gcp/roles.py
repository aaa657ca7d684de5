"""What each GCP function calls, declared beside the code that calls it.

The gcloud plan (`opwatch.deploy.gcp_plan`) grants exactly these, each on the one resource
it names, to the function's own service account. Keep this in step with `main.py`: a new
client call there is a new line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    on: str  # "findings_topic" | "config_secret" | "pagerduty_secret" | "firestore" | "heartbeat_bucket" | "self"
    why: str


# A check function: reads its config (maybe from Secret Manager), publishes findings,
# and is invoked by its own Eventarc trigger (the trigger runs as the function's account).
CHECK = (
    Grant("roles/pubsub.publisher", "findings_topic", "publish findings (publisher.publish)"),
    Grant("roles/secretmanager.secretAccessor", "config_secret", "read the TOML when it is kept as a secret"),
    Grant("roles/run.invoker", "self", "the Eventarc Pub/Sub trigger invokes the function as this account"),
)
# The beat writer (one check function) also overwrites its heartbeat objects.
BEAT_WRITER = (
    Grant("roles/storage.objectUser", "heartbeat_bucket", "overwrite heartbeat/<cloud>/<network>.json"),
)
# The pager: alert state in Firestore (transactions), the PagerDuty routing key.
PAGER = (
    Grant("roles/datastore.user", "firestore", "alert state: transactional get/set, queries"),
    Grant("roles/secretmanager.secretAccessor", "pagerduty_secret", "the PagerDuty routing key"),
)
# The identity Pub/Sub pushes findings with (OIDC): it may only invoke the pager.
PUSH = (
    Grant("roles/run.invoker", "pager", "push subscription delivers findings to the pager"),
)
