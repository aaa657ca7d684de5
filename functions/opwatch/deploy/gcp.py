"""`[gcp]`: where and how the GCP replica of opwatch runs.

A GCP replica is a change of variables: the same checks, findings and alert lifecycle as on
AWS, with these names and places. Every key is optional; `opwatch gcp deploy --project P
--region R` overrides the first two.

```toml
[gcp]
project = "opwatch-prod"              # --project overrides
project_number = "123456789012"       # for the Pub/Sub service agent (dead-letter IAM)
region = "europe-west1"               # --region overrides
runtime = "python312"                 # pinned Cloud Functions runtime
prefix = "opwatch"                    # every resource name starts with it
source = "build/gcp"                  # the prepared bundle folder (`opwatch gcp bundle`)
pagerduty_secret = "opwatch-pagerduty-routing-key"   # Secret Manager secret id (referenced)
config_secret = "opwatch-config"      # optional: the TOML itself from Secret Manager
firestore_database = "(default)"     # alert state (the pager's)
remedy_database = "opwatch-remedies"  # remedy state (caps, claims, leases, audit); default <prefix>-remedies
memory = "256Mi"
timeout = "120s"
max_instances = 2
max_delivery_attempts = 10            # per findings subscription, then its dead-letter topic
alarm_emails = ["oncall@example.com"] # self-watch alert policies (function errors, dead letters)
```

The heartbeat's buckets and peers are the config's `[heartbeat]` (checks/heartbeat.py), the same
section the AWS stack reads; `heartbeat_bucket`/`heartbeat_peers` here are errors pointing there.

Names derive mechanically from check ids (`sequencer_liveness` → function
`opwatch-sequencer-liveness`, entry point `sequencer_liveness`), so one search finds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..config import GCP_NAMES, Config, ConfigError, parse_duration

_RUNTIME = re.compile(r"python3[0-9]{2}")
_PREFIX = re.compile(r"[a-z][a-z0-9-]{0,13}")
_MEMORY = re.compile(r"[0-9]+(Mi|Gi)")
# Addresses reach the self-watch's script as words split on ',' (deploy/gcp_monitoring.py):
# nothing a shell would read twice.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_SOURCE = re.compile(r"[A-Za-z0-9._/-]+")  # a folder path: nothing a shell or gcloud would read twice
_KEYS = {
    "project", "project_number", "region", "runtime", "prefix", "source", "pagerduty_secret", "config_secret",
    "firestore_database", "remedy_database", "memory", "timeout", "max_instances", "max_delivery_attempts",
    "alarm_emails",
}
# Keys that moved: both clouds read them from one section now.
_MOVED = {"heartbeat_bucket": "[heartbeat] gcp = { bucket = \"...\" }",
          "heartbeat_peers": "[heartbeat] aws = { bucket = \"...\", region = \"...\", read_key = \"...\" }"}
SA_MAX = 30  # service account ids: 6..30 characters


@dataclass(frozen=True, slots=True)
class GcpSettings:
    project: str = ""
    project_number: str = ""
    region: str = ""
    runtime: str = "python312"
    prefix: str = "opwatch"
    source: str = "build/gcp"
    pagerduty_secret: str = "opwatch-pagerduty-routing-key"
    config_secret: str = ""
    firestore_database: str = "(default)"
    remedy_database: str = ""  # empty: <prefix>-remedies (remedy state never shares the pager's database)
    memory: str = "256Mi"
    timeout_s: int = 120
    max_instances: int = 2
    max_delivery_attempts: int = 10
    alarm_emails: tuple[str, ...] = ()  # the self-watch's e-mail channels (deploy/gcp_monitoring.py)

    def with_overrides(self, project: str | None = None, region: str | None = None,
                       project_number: str | None = None) -> GcpSettings:
        """Apply CLI flags, then insist on what a deployment cannot do without."""
        settings = replace(self, project=project or self.project, region=region or self.region,
                           project_number=project_number or self.project_number)
        problems = []
        if not GCP_NAMES["project"][0].fullmatch(settings.project):
            problems.append(f"gcp.project: a project id is required (--project or gcp.project), got "
                            f"{settings.project!r}")
        if not GCP_NAMES["region"][0].fullmatch(settings.region):
            problems.append(f"gcp.region: a region like 'europe-west1' is required (--region or gcp.region), "
                            f"got {settings.region!r}")
        if not GCP_NAMES["project_number"][0].fullmatch(settings.project_number):
            problems.append("gcp.project_number: required for the dead-letter IAM bindings (gcloud projects "
                            f"describe {settings.project or 'P'} --format='value(projectNumber)')")
        if problems:
            raise ConfigError(problems)
        return settings

    # --- names -----------------------------------------------------------------------

    def name(self, *parts: str) -> str:
        """`opwatch-sequencer-liveness`: the prefix and the parts, '_' as '-'."""
        return "-".join((self.prefix, *parts)).replace("_", "-")

    def service_account(self, role: str) -> str:
        return f"{self.name(role)}@{self.project}.iam.gserviceaccount.com"

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def secret_path(self, secret: str) -> str:
        return f"projects/{self.project}/secrets/{secret}/versions/latest"

    def function_url(self, function: str) -> str:
        # Gen2 functions answer on this stable URL as well as on their run.app URL.
        return f"https://{self.region}-{self.project}.cloudfunctions.net/{function}"

    @property
    def remedy_store_database(self) -> str:
        return self.remedy_database or self.name("remedies")

    @property
    def findings_topic(self) -> str:
        return self.name("findings")

    @property
    def pubsub_agent(self) -> str:
        return f"service-{self.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"


def parse_section(table: Mapping[str, Any], where: str, config: Config) -> GcpSettings:
    problems: list[str] = []
    values: dict[str, Any] = {}

    def fail(key: str, message: str) -> None:
        problems.append(f"{where}.{key}: {message}")

    for key in table:
        if key in _MOVED:
            fail(key, f"moved to the [heartbeat] section, read by both clouds: {_MOVED[key]} "
                      "(docs/runbooks/heartbeat.md)")
        elif key not in _KEYS:
            fail(key, f"unknown key (known: {', '.join(sorted(_KEYS))})")

    def text(key: str, pattern: re.Pattern[str], hint: str) -> None:
        if key not in table:
            return
        value = table[key]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            fail(key, f"expected {hint}, got {value!r}")
        else:
            values[key] = value

    for key, kind in (("project", "project"), ("project_number", "project_number"), ("region", "region"),
                      ("pagerduty_secret", "secret"), ("config_secret", "secret"),
                      ("firestore_database", "firestore_database"), ("remedy_database", "firestore_database")):
        text(key, *GCP_NAMES[kind])
    text("runtime", _RUNTIME, "a pinned Python runtime like 'python312'")
    text("prefix", _PREFIX, "1-14 lower-case letters, digits or '-', starting with a letter")
    text("source", _SOURCE, "a folder path of letters, digits, '.', '_', '-' and '/'")
    text("memory", _MEMORY, "a memory size like '256Mi'")
    if "timeout" in table:
        try:
            seconds = parse_duration(table["timeout"])
            if not 10 <= seconds <= 540 or seconds != int(seconds):
                fail("timeout", "must be whole seconds between 10s and 540s (event-driven gen2 limit)")
            else:
                values["timeout_s"] = int(seconds)
        except ValueError as exc:
            fail("timeout", str(exc))
    for key, low, high in (("max_instances", 1, 100), ("max_delivery_attempts", 5, 100)):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                fail(key, f"expected an integer between {low} and {high}, got {value!r}")
            else:
                values[key] = value
    if "alarm_emails" in table:
        emails = table["alarm_emails"]
        if not isinstance(emails, list) or not all(isinstance(e, str) and EMAIL.fullmatch(e) for e in emails):
            fail("alarm_emails", "expected a list of e-mail addresses")
        else:
            values["alarm_emails"] = tuple(emails)
    settings = GcpSettings(**values)
    if settings.remedy_store_database == settings.firestore_database:
        fail("remedy_database", "must differ from firestore_database: the pager may write alert state, never the "
             "remedies' caps, claims and leases")
    longest = max([*_roles(), "pager", "push", "remedy-snapshot", "remedy-failover"], key=len)
    if len(settings.name(longest)) > SA_MAX:
        fail("prefix", f"service account {settings.name(longest)!r} would be over {SA_MAX} characters: "
             "use a shorter prefix")
    if problems:
        raise ConfigError(problems)
    return settings


def _roles() -> list[str]:
    from ..checks import CHECKS

    return list(CHECKS)
