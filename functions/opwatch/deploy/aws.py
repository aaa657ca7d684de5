"""`[aws]`: how the CDK app deploys opwatch, one stack per environment.

```toml
[aws]
namespace = "opwatch"                 # CloudWatch metric namespace and resource name prefix
alarm_emails = ["oncall@example.com"] # self-watch alarms (errors, throttles, missing heartbeats, DLQs)
alarm_https = ["https://events.pagerduty.com/integration/KEY/enqueue"]  # e.g. PagerDuty's CloudWatch integration
check_metrics = false                 # true: also each check value as a CloudWatch metric (Grafana reads them)
layout = "per_check"                  # a function per check, over its networks; "per_network": per check and network
log_retention_days = 30
runbook_base_url = "https://github.com/example/opwatch/blob/main"   # pages link docs/runbooks/<check>.md there

[aws.memory]                          # MB per function: a check id, a remedy, "pager", or "default"
default = 256
rpc_sync = 512

[aws.environments.staging]
region = "eu-west-1"
account = "111111111111"              # optional: default is the CLI's account
networks = ["sepolia"]                # optional: default is every configured network

[aws.environments.production]
region = "us-east-1"
# Existing secrets, imported by ARN; an absent one is created empty (the operator sets
# its value). The stack never contains a secret value either way.
secrets.pagerduty_routing_key = "arn:aws:secretsmanager:us-east-1:222222222222:secret:opwatch/pd-AbCdEf"
secrets.rpc_endpoints = "arn:aws:secretsmanager:us-east-1:222222222222:secret:opwatch/rpc-AbCdEf"

[[aws.subscriptions]]                 # findings topic subscribers, filtered on message attributes
protocol = "email"                    # or "https"
endpoint = "rollup-team@example.com"
filter = { status = ["firing"], severity = ["critical", "warning"] }
```

`secrets.rpc_endpoints` holds a JSON object `{"<endpoint name>": "<full URL with its API key>"}`:
an endpoint in the TOML named that way (`{ url = "https://rpc.example", name = "rpc-1" }`)
is called at the secret's URL, so keys never sit in the bundled config.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, ConfigError

_ACCOUNT = re.compile(r"^\d{12}\Z")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d\Z")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}\Z")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+\Z")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}\Z")
SECRET_NAMES = ("pagerduty_routing_key", "funder_key", "rpc_endpoints")
# One function per remedy kind (restore runs in the failover function).
REMEDY_FUNCTIONS = ("topup", "snapshot", "failover")
FILTER_KEYS = ("network", "check", "status", "severity")
# How check functions are cut (docs/benchmarks.md, "Networks in one deployment", measured the two):
# `per_check`: one function per check, running it over every network of the environment it applies
# to, concurrently (the core's `run_checks`, as GCP's functions do); `per_network`: one function per
# check and network (isolation per network: a function, its role and its alarms each serve one).
LAYOUTS = ("per_check", "per_network")
_STATUSES = ("ok", "firing", "unknown")
_SEVERITIES = ("info", "warning", "critical")
# CloudWatch Logs accepts only these retention periods (days).
_RETENTIONS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
               3653)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    region: str | None = None
    account: str | None = None
    networks: tuple[str, ...] = ()  # resolved: never empty after parsing
    # secret name (SECRET_NAMES) -> existing ARN; absent ones are created by the stack.
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subscription:
    protocol: str  # "email" | "https"
    endpoint: str
    # SNS filter policy on message attributes: attribute -> allowed values.
    filter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AwsSettings:
    environments: Mapping[str, Environment]
    namespace: str = "opwatch"
    alarm_emails: tuple[str, ...] = ()
    alarm_https: tuple[str, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    memory: Mapping[str, int] = field(default_factory=dict)
    log_retention_days: int = 30
    runbook_base_url: str = ""
    # Custom metrics cost $0.30 a series a month, one per check value and target and one
    # heartbeat per check and network: more than the rest of the stack. The stack's own
    # dashboard graphs the values from the finding log lines and its alarms read Lambda's
    # free metrics, so they are emitted only when something else (Grafana) reads them.
    check_metrics: bool = False
    layout: str = "per_check"

    def memory_mb(self, function: str) -> int:
        """256 MB by default: checks wait on RPC, they do not compute. Lambda's CPU share grows
        with memory, and 256 MB keeps the cold start (config parsing, keccak) well under a second.
        A snapshot holds a compressed state dump in memory: give it what the chain's state needs."""
        return self.memory.get(function, self.memory.get("default", 256))


# Lambda stops a function at 15 minutes; a wait that cannot fit is a configuration error, never
# a silently shorter timeout (a function killed midway leaves no finding, or a remedy half done).
LAMBDA_MAX_TIMEOUT_S = 900
# Beyond its waits, a remedy loads its config and secrets, reads the chain (every observer twice,
# the fence, balances and nonces), claims, signs and records: two minutes.
REMEDY_WORK_S = 120
# What a run needs whatever its waits: a state archive is dumped, compressed and uploaded (a
# snapshot), the sequencer read and switched (a failover).
REMEDY_FLOOR_S = {"topup": 60, "snapshot": 300, "failover": 300}


def check_longest_wait_s(check_id: str, config: Config, fast_lane: bool = False) -> float:
    """The longest a check function waits: one request with its retries, and for the fast lane
    the minute it samples for before that."""
    per_call = config.rpc.timeout * (config.rpc.retries + 1)
    return per_call + (60.0 if fast_lane else 0.0)


def timeout_seconds(check_id: str, config: Config, fast_lane: bool = False) -> int:
    """Lambda timeout for a check function, derived from the RPC settings.

    A check makes a handful of sequential round trips, each bounded by `rpc.timeout` times
    `rpc.retries + 1`; four of them plus 10 s of start-up is the budget. batch_submission
    reads up to `max_l1_blocks_scanned` blocks in batches, so it gets a minute more. The
    fast lane samples for the whole minute between schedules, plus one check's budget.
    Beyond Lambda's 900 s it is a ConfigError naming the settings to lower.
    """
    per_call = config.rpc.timeout * (config.rpc.retries + 1)
    seconds = 4 * per_call + 10
    if check_id == "batch_submission":
        seconds += 60
    if fast_lane:
        seconds += 60
    if seconds > LAMBDA_MAX_TIMEOUT_S:
        raise ConfigError([f"rpc: {check_id} needs up to {seconds:.0f} s (four requests of rpc.timeout "
                           f"{config.rpc.timeout:g} s x {config.rpc.retries + 1} attempts, and its own work), "
                           f"more than Lambda's {LAMBDA_MAX_TIMEOUT_S} s: lower rpc.timeout or rpc.retries"])
    return max(30, math.ceil(seconds))


def remedy_timeout_seconds(config: Config, remedy: str, networks: Sequence[str]) -> int:
    """Lambda timeout for a remedy function: above the longest wait of the remedy on any of its
    networks (remedies/permissions.longest_wait_s) plus its work, so Lambda never stops a run
    midway (a payment sent and unrecorded, a volume attached and no node started)."""
    from ..remedies.permissions import longest_wait_s

    policy = config.section("remediation")
    waits = {n: longest_wait_s(remedy, policy.for_network(n)) for n in networks}
    worst = max(waits, key=lambda n: waits[n])
    seconds = max(REMEDY_FLOOR_S.get(remedy, 60), math.ceil(waits[worst] + REMEDY_WORK_S))
    if seconds > LAMBDA_MAX_TIMEOUT_S:
        raise ConfigError([f"remediation.networks.{worst}.{remedy}: waits up to {waits[worst]:.0f} s, which with "
                           f"{REMEDY_WORK_S} s of work exceeds Lambda's {LAMBDA_MAX_TIMEOUT_S} s: shorten its "
                           "waits (receipt_timeout, replacement_wait, stall_after) or run its remedies on GCP"])
    return seconds


def parse_section(table: Mapping[str, Any], where: str, config: Config) -> AwsSettings:
    problems: list[str] = []

    def fail(path: str, message: str) -> None:
        problems.append(f"{where}.{path}: {message}")

    known = {"namespace", "alarm_emails", "alarm_https", "subscriptions", "memory", "environments",
             "log_retention_days", "runbook_base_url", "check_metrics", "layout"}
    for key in table:
        if key not in known:
            fail(key, f"unknown key (known: {', '.join(sorted(known))})")

    namespace = table.get("namespace", "opwatch")
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        fail("namespace", "expected letters, digits, '-' or '_', starting with a letter (at most 40)")
        namespace = "opwatch"

    emails = table.get("alarm_emails", [])
    if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails):
        fail("alarm_emails", "expected a list of e-mail addresses")
        emails = []

    https = table.get("alarm_https", [])
    if not isinstance(https, list) or not all(isinstance(u, str) and u.startswith("https://") for u in https):
        fail("alarm_https", "expected a list of https:// URLs")
        https = []

    runbooks = table.get("runbook_base_url", "")
    if not isinstance(runbooks, str) or (runbooks and not runbooks.startswith("https://")):
        fail("runbook_base_url", "expected an https:// URL")
        runbooks = ""

    retention = table.get("log_retention_days", 30)
    if retention not in _RETENTIONS or isinstance(retention, bool):
        fail("log_retention_days", f"CloudWatch Logs accepts {', '.join(map(str, _RETENTIONS))}")
        retention = 30

    check_metrics = table.get("check_metrics", False)
    if not isinstance(check_metrics, bool):
        fail("check_metrics", "expected true or false")
        check_metrics = False

    layout = table.get("layout", "per_check")
    if layout not in LAYOUTS:
        fail("layout", f"expected one of {', '.join(LAYOUTS)}")
        layout = "per_check"

    memory = _memory(table.get("memory", {}), fail)
    subscriptions = _subscriptions(table.get("subscriptions", []), config, fail)
    environments = _environments(table.get("environments", {}), config, fail)
    if problems:
        raise ConfigError(problems)
    return AwsSettings(environments=environments, namespace=namespace, alarm_emails=tuple(emails),
                       alarm_https=tuple(https), subscriptions=subscriptions, memory=memory,
                       log_retention_days=retention, runbook_base_url=runbooks, check_metrics=check_metrics,
                       layout=layout)


def _memory(raw: Any, fail: Any) -> dict[str, int]:
    from ..checks import CHECKS

    if not isinstance(raw, Mapping):
        fail("memory", "expected a table of function name -> MB")
        return {}
    out = {}
    known = {*CHECKS, *REMEDY_FUNCTIONS, "pager", "default"}
    for name, mb in raw.items():
        if name not in known:
            fail(f"memory.{name}", f"unknown function (known: {', '.join(sorted(known))})")
        elif isinstance(mb, bool) or not isinstance(mb, int) or not 128 <= mb <= 10240:
            fail(f"memory.{name}", f"expected MB between 128 and 10240, got {mb!r}")
        else:
            out[name] = mb
    return out


def _subscriptions(raw: Any, config: Config, fail: Any) -> tuple[Subscription, ...]:
    from ..checks import CHECKS

    if not isinstance(raw, list):
        fail("subscriptions", "expected an array of tables ([[aws.subscriptions]])")
        return ()
    allowed = {"network": tuple(config.networks), "check": tuple(CHECKS), "status": _STATUSES,
               "severity": _SEVERITIES}
    out = []
    for i, sub in enumerate(raw):
        path = f"subscriptions[{i}]"
        if not isinstance(sub, Mapping):
            fail(path, "expected a table")
            continue
        for key in set(sub) - {"protocol", "endpoint", "filter"}:
            fail(f"{path}.{key}", "unknown key (known: protocol, endpoint, filter)")
        protocol, endpoint = sub.get("protocol"), sub.get("endpoint")
        if protocol not in ("email", "https"):
            fail(f"{path}.protocol", f"expected 'email' or 'https', got {protocol!r}")
        elif not isinstance(endpoint, str) or not (
                _EMAIL.match(endpoint) if protocol == "email" else endpoint.startswith("https://")):
            fail(f"{path}.endpoint", f"expected an {'e-mail address' if protocol == 'email' else 'https:// URL'}")
        filters: dict[str, tuple[str, ...]] = {}
        raw_filter = sub.get("filter", {})
        if not isinstance(raw_filter, Mapping):
            fail(f"{path}.filter", "expected a table of attribute -> list of values")
            raw_filter = {}
        for key, values in raw_filter.items():
            if key not in allowed:
                fail(f"{path}.filter.{key}", f"unknown attribute (known: {', '.join(FILTER_KEYS)})")
                continue
            if isinstance(values, str):
                values = [values]
            bad = [v for v in values if v not in allowed[key]] if isinstance(values, list) else [values]
            if bad or not values:
                fail(f"{path}.filter.{key}", f"expected values among {', '.join(allowed[key])}, got {bad or values!r}")
                continue
            filters[key] = tuple(dict.fromkeys(values))
        combinations = math.prod(len(v) for v in filters.values())
        if combinations > 150:  # SNS's limit per filter policy
            fail(f"{path}.filter", f"{combinations} value combinations; SNS allows at most 150")
        if isinstance(protocol, str) and isinstance(endpoint, str):
            out.append(Subscription(protocol, endpoint, filters))
    return tuple(out)


def _environments(raw: Any, config: Config, fail: Any) -> dict[str, Environment]:
    if not isinstance(raw, Mapping):
        fail("environments", "expected tables [aws.environments.NAME]")
        return {}
    if not raw:
        # No environments: one stack named "default" in the CLI's account and region.
        return {"default": Environment("default", networks=tuple(config.networks))}
    out = {}
    for name, env in raw.items():
        path = f"environments.{name}"
        if not _ENV_NAME.match(name):
            fail(path, "environment names are lower-case letters, digits and '-', starting with a letter")
            continue
        if not isinstance(env, Mapping):
            fail(path, "expected a table")
            continue
        for key in set(env) - {"region", "account", "networks", "secrets"}:
            fail(f"{path}.{key}", "unknown key (known: region, account, networks, secrets)")
        region, account = env.get("region"), env.get("account")
        if region is not None and not (isinstance(region, str) and _REGION.match(region)):
            fail(f"{path}.region", f"expected an AWS region like 'us-east-1', got {region!r}")
        if account is not None and not (isinstance(account, str) and _ACCOUNT.match(account)):
            fail(f"{path}.account", "expected a 12-digit account id as a string")
        networks = env.get("networks", list(config.networks))
        if not isinstance(networks, list) or not networks:
            fail(f"{path}.networks", "expected a non-empty list of network names")
            networks = []
        for n in networks:
            if n not in config.networks:
                fail(f"{path}.networks", f"no network {n!r} (configured: {', '.join(config.networks)})")
        secrets = env.get("secrets", {})
        if not isinstance(secrets, Mapping):
            fail(f"{path}.secrets", "expected a table of secret name -> ARN")
            secrets = {}
        for key, arn in secrets.items():
            if key not in SECRET_NAMES:
                fail(f"{path}.secrets.{key}", f"unknown secret (known: {', '.join(SECRET_NAMES)})")
            elif not isinstance(arn, str) or not _SECRET_ARN.match(arn):
                fail(f"{path}.secrets.{key}", "expected a Secrets Manager secret ARN (never the secret's value)")
            elif isinstance(region, str) and arn.split(":")[3] != region:
                fail(f"{path}.secrets.{key}", f"the secret is in {arn.split(':')[3]}, the environment in {region}")
        out[name] = Environment(name, region if isinstance(region, str) else None,
                                account if isinstance(account, str) else None,
                                tuple(n for n in networks if isinstance(n, str)), dict(secrets))
    return out

