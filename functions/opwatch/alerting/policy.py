"""How long a condition must hold, where each severity goes, and what is silenced.

Defaults are tuned per check and declared on it (`Check.timing`, viewed here as
`DEFAULT_TIMINGS`): the check thresholds already contain their own patience (a sequencer
head must be 15 block times old before the finding fires), so the alert lifecycle adds only
what each signal's noise needs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..checks import DEFAULT_TIMING, CheckFacts
from ..checks import Hold as Hold  # re-exported: the alert lifecycle's vocabulary
from ..checks import Timing as Timing
from .inhibit import L1_CAUSE_CHECK

# Each check declares its own default timings (`Check.timing`, with the reason beside it);
# these are views of `CHECKS`, read when a policy is built, so a registered check has its own.
# The L1-unreachable root cause (see inhibit.py) is not a check: it only ever goes unknown/ok.
L1_CAUSE_TIMING = Timing(Hold(1), Hold(1), Hold(3, 300.0))
DEFAULT_TIMINGS: Mapping[str, Timing] = CheckFacts(lambda check: check.timing, {L1_CAUSE_CHECK: L1_CAUSE_TIMING})
# For an alert whose check is not registered (a state written by another version).
FALLBACK_TIMING = DEFAULT_TIMING

# The sink every runtime builds without being told: PagerDuty, with the deployment's own routing
# key secret. Others are declared in `[alerting.sinks.<name>]`; a route may name only these and
# the declared ones (`AlertPolicy.sink_names`), and every runtime builds exactly those.
DEPLOYED_SINKS: tuple[str, ...] = ("pagerduty",)
# type → what the sink speaks (alerting/<type>.py). A Slack or webhook URL is a credential
# (whoever holds it may post), so those come from a secret; an Alertmanager URL may be plain.
SINK_TYPES = ("pagerduty", "alertmanager", "slack", "webhook")
_URL_MAY_BE_PLAIN = ("alertmanager",)

# Severity → sink names. Critical and warning both go to PagerDuty: no chat sink is deployed
# yet, and a warning routed to a sink nobody builds changed state and notified no one. Events
# v2 has no urgency field; the event's severity (critical | warning) is what a PagerDuty
# service set to "urgency based on alert severity" maps to high | low urgency. Info is only
# recorded.
DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = {
    "critical": ("pagerduty",),
    "warning": ("pagerduty",),
    "info": (),
}
# Severities that must reach someone: "opwatch cannot see X" and "a page could not be
# delivered" are warnings, so an empty route here would hide exactly the alerts about opwatch.
MUST_NOTIFY = ("critical", "warning")


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute notifications for a network (all checks when `check` is None) until `until` (epoch s).

    A silence only stops new notifications: the lifecycle still runs and records every
    transition, an incident already paged stays open, and one still firing when the
    silence expires is paged then.
    """

    network: str
    until: float
    check: str | None = None
    reason: str = ""

    def matches(self, network: str, check: str, now: float) -> bool:
        if now >= self.until or network != self.network:
            return False
        # Matched against the alert's own check, so silencing a check also silences
        # "opwatch cannot see <check>".
        return self.check is None or self.check == check


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """`[alerting.sinks.<name>]`: where a sink delivers. `secret` names a secret in the runtime's
    secret store (AWS Secrets Manager, GCP Secret Manager, the environment for the CLI) holding
    the webhook URL (slack, webhook, alertmanager) or the routing key (pagerduty), read at call
    time and never logged; `url` is an Alertmanager's address when it is no credential."""

    name: str
    type: str
    secret: str = ""
    url: str = ""
    # Alertmanager: how long a trigger stays firing there unless resolved (opwatch sends a
    # trigger once; Alertmanager would otherwise end it after its resolve_timeout, 5 min).
    firing_ttl_s: float = 0.0  # 0: DEFAULT_FIRING_TTL_S


DEFAULT_FIRING_TTL_S = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    timings: Mapping[str, Timing] = field(default_factory=lambda: dict(DEFAULT_TIMINGS))
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    silences: Sequence[Silence] = ()
    # Prefix that turns docs/runbooks/<check>.md into a link a pager can open.
    runbook_base_url: str = ""
    # How long one evaluator owns sending a notification before another may take over.
    claim_seconds: float = 120.0
    # Declared sinks beyond PagerDuty, by name.
    sinks: Mapping[str, SinkSpec] = field(default_factory=dict)

    @property
    def sink_names(self) -> tuple[str, ...]:
        """Every sink a runtime builds for this policy: PagerDuty and the declared ones."""
        return (*DEPLOYED_SINKS, *self.sinks)

    def timing(self, check: str) -> Timing:
        return self.timings.get(check, FALLBACK_TIMING)

    def route(self, severity: str) -> tuple[str, ...]:
        # A severity without a route of its own (a state written by another version) is treated
        # as critical rather than dropped.
        if severity in self.routes:
            return tuple(self.routes[severity])
        return tuple(self.routes.get("critical", ()))

    def silenced(self, network: str, check: str, now: float) -> Silence | None:
        return next((s for s in self.silences if s.matches(network, check, now)), None)

    def runbook_url(self, path: str) -> str:
        return self.runbook_base_url.rstrip("/") + "/" + path if self.runbook_base_url else path

    def with_overrides(self, timings: Mapping[str, Timing]) -> AlertPolicy:
        return replace(self, timings={**self.timings, **timings})


def route_problems(routes: Mapping[str, Sequence[str]], sinks: Collection[str],
                   where: str = "alerting") -> list[str]:
    """What is wrong with `routes` for these sinks, each problem naming its dotted field: a
    route to a sink that does not exist, or critical/warning alerts routed to no sink."""
    known = ", ".join(sorted(sinks)) or "none"
    problems = []
    for severity in MUST_NOTIFY:
        if not routes.get(severity):
            problems.append(f"{where}.routes.{severity}: routes {severity} alerts to no sink, so they would "
                            f"change state and notify no one (sinks: {known})")
    for severity, names in routes.items():
        for name in names:
            if name not in sinks:
                problems.append(f"{where}.routes.{severity}: no sink named {name!r} (sinks: {known})")
    return problems


# --- [alerting] in the config file ---------------------------------------------------------

_TOP_KEYS = {"runbook_base_url", "claim_time", "routes", "checks", "silences", "sinks"}
_SINK_KEYS = {"type", "secret", "url", "firing_ttl"}
_CHECK_KEYS = {"fire_after", "fire_after_time", "resolve_after", "resolve_after_time",
               "blind_after", "blind_after_time", "blind_severity"}
_SEVERITIES = ("critical", "warning", "info")


def parse_section(table: Mapping[str, Any], where: str, config: Any) -> AlertPolicy:
    """`[alerting]` → AlertPolicy. Every problem names its dotted field; raises ConfigError.

    ```toml
    [alerting]
    runbook_base_url = "https://github.com/org/opwatch/blob/main"
    routes = { critical = ["pagerduty", "am"], warning = ["chat"], info = [] }
    [alerting.sinks.am]
    type = "alertmanager"     # or: slack, webhook, pagerduty (another service's routing key)
    url = "http://alertmanager:9093"   # or secret = "<name>" (required for slack and webhook)
    [alerting.sinks.chat]
    type = "slack"
    secret = "opwatch-slack-webhook"   # the incoming-webhook URL, in the runtime's secret store
    [alerting.checks.rpc_sync]
    fire_after = 5            # evaluations in a row
    fire_after_time = "5m"    # or this long, whichever comes first
    resolve_after = 3
    blind_after = 5
    blind_severity = "warning"
    [[alerting.silences]]
    network = "mainnet"
    check = "rpc_sync"        # omit: the whole network
    until = "2026-01-01T00:00:00Z"
    reason = "node migration"
    ```
    """
    from ..config import ConfigError, parse_duration

    problems: list[str] = []

    def fail(field_: str, message: str) -> None:
        problems.append(f"{where}.{field_}: {message}")

    for key in table:
        if key not in _TOP_KEYS:
            fail(key, f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    base = AlertPolicy()
    runbook_base_url = table.get("runbook_base_url", "")
    if not isinstance(runbook_base_url, str):
        fail("runbook_base_url", "expected a string")
        runbook_base_url = ""
    claim = base.claim_seconds
    if "claim_time" in table:
        try:
            claim = parse_duration(table["claim_time"])
        except ValueError as exc:
            fail("claim_time", str(exc))
    routes = dict(base.routes)
    raw_routes = table.get("routes", {})
    if not isinstance(raw_routes, Mapping):
        fail("routes", "expected a table")
        raw_routes = {}
    for severity, sinks in raw_routes.items():
        if severity not in _SEVERITIES:
            fail(f"routes.{severity}", f"not a severity (one of {', '.join(_SEVERITIES)})")
        elif not isinstance(sinks, list) or not all(isinstance(s, str) and s for s in sinks):
            fail(f"routes.{severity}", "expected a list of sink names")
        else:
            routes[severity] = tuple(sinks)
    sinks = _sinks(table.get("sinks", {}), fail)
    problems += route_problems(routes, (*DEPLOYED_SINKS, *sinks), where)
    timings = dict(base.timings)
    raw_checks = table.get("checks", {})
    if not isinstance(raw_checks, Mapping):
        fail("checks", "expected a table")
        raw_checks = {}
    for check, t in raw_checks.items():
        sub = f"checks.{check}"
        if check not in timings:
            fail(sub, f"unknown check (known: {', '.join(sorted(timings))})")
            continue
        if not isinstance(t, Mapping):
            fail(sub, "expected a table")
            continue
        for key in t:
            if key not in _CHECK_KEYS:
                fail(f"{sub}.{key}", f"unknown key (known: {', '.join(sorted(_CHECK_KEYS))})")
        old = timings[check]

        def hold(name: str, default: Hold, sub: str = sub, t: Mapping[str, Any] = t) -> Hold:
            count, seconds = default.evaluations, default.seconds
            if name in t:
                value = t[name]
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                    fail(f"{sub}.{name}", f"expected an integer 1..1000, got {value!r}")
                else:
                    count = value
            if f"{name}_time" in t:
                try:
                    seconds = parse_duration(t[f"{name}_time"])
                except ValueError as exc:
                    fail(f"{sub}.{name}_time", str(exc))
            return Hold(count, seconds)

        blind_severity = t.get("blind_severity", old.blind_severity)
        if blind_severity not in _SEVERITIES:
            fail(f"{sub}.blind_severity", f"expected one of {', '.join(_SEVERITIES)}, got {blind_severity!r}")
            blind_severity = old.blind_severity
        timings[check] = Timing(hold("fire_after", old.fire), hold("resolve_after", old.resolve),
                                hold("blind_after", old.blind), blind_severity)
    silences = []
    raw_silences = table.get("silences", [])
    if not isinstance(raw_silences, list):
        fail("silences", "expected an array of tables ([[alerting.silences]])")
        raw_silences = []
    networks = set(getattr(config, "networks", {}) or {})
    for i, s in enumerate(raw_silences):
        sub = f"silences[{i}]"
        if not isinstance(s, Mapping):
            fail(sub, "expected a table")
            continue
        for key in s:
            if key not in {"network", "check", "until", "reason"}:
                fail(f"{sub}.{key}", "unknown key (known: check, network, reason, until)")
        network, check = s.get("network"), s.get("check")
        if not isinstance(network, str) or (networks and network not in networks):
            fail(f"{sub}.network", f"expected a configured network name, got {network!r}")
            continue
        if check is not None and check not in timings:
            fail(f"{sub}.check", f"unknown check {check!r}")
            continue
        until = s.get("until")
        try:
            until_s = _timestamp(until)
        except ValueError:
            fail(f"{sub}.until", f"expected an ISO 8601 time like '2026-01-01T00:00:00Z', got {until!r}")
            continue
        silences.append(Silence(network=network, until=until_s, check=check, reason=str(s.get("reason", ""))))
    if problems:
        raise ConfigError(problems)
    return AlertPolicy(timings=timings, routes=routes, silences=tuple(silences),
                       runbook_base_url=runbook_base_url, claim_seconds=claim, sinks=sinks)


def _sinks(raw: Any, fail: Callable[[str, str], None]) -> dict[str, SinkSpec]:
    from ..config import parse_duration

    if not isinstance(raw, Mapping):
        fail("sinks", "expected a table of [alerting.sinks.<name>]")
        return {}
    out: dict[str, SinkSpec] = {}
    for name, t in raw.items():
        sub = f"sinks.{name}"
        if name in DEPLOYED_SINKS:
            fail(sub, f"{name!r} is built from the deployment's routing key secret; declare another "
                      "PagerDuty service under another name (type = \"pagerduty\", secret = ...)")
            continue
        if not isinstance(t, Mapping):
            fail(sub, "expected a table")
            continue
        for key in t:
            if key not in _SINK_KEYS:
                fail(f"{sub}.{key}", f"unknown key (known: {', '.join(sorted(_SINK_KEYS))})")
        kind, secret, url = t.get("type"), t.get("secret", ""), t.get("url", "")
        if kind not in SINK_TYPES:
            fail(f"{sub}.type", f"expected one of {', '.join(SINK_TYPES)}, got {kind!r}")
            continue
        if not isinstance(secret, str) or not isinstance(url, str):
            fail(sub, "secret and url are strings")
            continue
        if url and kind not in _URL_MAY_BE_PLAIN:
            # Never echo the value: it is the credential.
            fail(f"{sub}.url", f"a {kind} URL is a credential: keep it in a secret and name it with `secret`")
            continue
        if url and (not url.startswith(("http://", "https://")) or "@" in url.split("/")[2]):
            fail(f"{sub}.url", "expected http(s)://host[:port] without credentials (put a URL with "
                               "credentials in a secret and name it with `secret`)")
            continue
        if bool(url) == bool(secret):
            fail(sub, "expected exactly one of secret (a secret's name) or url" if kind in _URL_MAY_BE_PLAIN
                 else "expected secret: the name of the secret holding its " +
                      ("routing key" if kind == "pagerduty" else "webhook URL"))
            continue
        ttl = DEFAULT_FIRING_TTL_S
        if "firing_ttl" in t:
            if kind != "alertmanager":
                fail(f"{sub}.firing_ttl", "only an alertmanager sink has one")
                continue
            try:
                ttl = parse_duration(t["firing_ttl"])
            except ValueError as exc:
                fail(f"{sub}.firing_ttl", str(exc))
                continue
        out[name] = SinkSpec(name=name, type=kind, secret=secret, url=url, firing_ttl_s=ttl)
    return out


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):  # TOML datetimes arrive parsed
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if not isinstance(value, str):
        raise ValueError(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment.timestamp()
