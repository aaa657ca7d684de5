"""The GCP deployment as a list of gcloud commands, rendered from the config (pure).

    plan = render_plan(config, settings)        # list[Step]
    print(to_shell(plan))                       # what `opwatch gcp deploy --dry-run` prints

Every step converges when run again: resources are described first and created only when
missing (or updated in place when they exist), IAM bindings are `add-iam-policy-binding`
(a no-op when present), and `gcloud functions deploy` is itself create-or-update. Secrets
are only referenced: the plan checks they exist and grants access, it never holds a value.

Topology (docs/gcp.md):

    Cloud Scheduler job <check> ──► topic <prefix>-tick-<check> ──► function <prefix>-<check>
        (Eventarc trigger)                                             │ publishes Finding
    topic <prefix>-findings ◄──────────────────────────────────────────┘  (attributes + JSON)
        ├─ push subscription <prefix>-pager (filter on attributes, dead-letter topic)
        │      ──► function <prefix>-pager (HTTP, IAM invoker only) ──► Firestore, PagerDuty
        └─ push subscription <prefix>-remedy-<remedy> (firing findings of its trigger check,
               on the networks whose remedies run on GCP) ──► function <prefix>-remedy-<remedy>
               (HTTP, IAM invoker only; operators POST requests by hand) ──► Firestore, chain
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import GCP_NAMES, Config, ConfigError
from ..gcp import filters, roles
from . import gcp_monitoring
from .gcp import GcpSettings
from .schedules import Schedules

BEAT_WRITER = "sequencer_liveness"  # = checks.heartbeat.WRITER: its beat proves scheduler → function → publish
APIS = ("cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com", "eventarc.googleapis.com", "pubsub.googleapis.com",
        "cloudscheduler.googleapis.com", "secretmanager.googleapis.com", "firestore.googleapis.com",
        "iam.googleapis.com", "monitoring.googleapis.com")
TTL_COLLECTIONS = ("alert_transition", "dead_letter", "alert_state", "alert_silence")
REMEDY_TTL_COLLECTIONS = ("opwatch_remedy_leases", "opwatch_remedy_audit")
MEMORY_TTL_COLLECTIONS = ("check_memory",)  # opwatch.gcp.memory_store


def memory_database(s: GcpSettings) -> str:
    """The checks' memory: a database of their own, so a check account can write what it remembers
    and nothing of the alert or remedy state (IAM conditions on Firestore stop at databases)."""
    return s.name("memory")
REMEDIES = ("topup", "snapshot", "failover")


@dataclass(frozen=True, slots=True)
class Step:
    """One idempotent step: `create` alone, or guarded by `describe` (create when it fails,
    `update` when it succeeds, if given). `require`: describe must succeed, else stop."""

    comment: str
    create: tuple[str, ...] = ()
    describe: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    require: str = ""  # the message when a required resource is missing

    def argvs(self) -> list[tuple[str, ...]]:
        return [a for a in (self.describe, self.create, self.update) if a]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What the plan deploys; tests read these to assert the wiring."""

    name: str
    entry_point: str
    service_account: str
    trigger_topic: str = ""  # empty: HTTP (authenticated) trigger
    env: tuple[tuple[str, str], ...] = ()
    role: str = ""  # the service account's role name, when several functions share an entry point
    timeout_s: int = 0  # 0: the settings' timeout
    ingress: str = "internal-only"
    max_instances: int = 0  # 0: the settings' max_instances

    @property
    def identity(self) -> str:
        return self.role or self.entry_point


def gcloud(*args: str, settings: GcpSettings) -> tuple[str, ...]:
    return ("gcloud", *args, f"--project={settings.project}")


def check_ids(config: Config, settings: GcpSettings) -> list[str]:
    """The checks worth a function: those that apply to at least one configured network.
    The heartbeat applies when `[heartbeat]` names a peer for GCP to read (the AWS side's beats)."""
    from ..checks import CHECKS, Context
    from ..checks.base import why_skipped

    # On GCP's terms: snapshot_freshness applies where [remediation] keeps snapshots on GCP.
    contexts = [Context(net, config=config, cloud="gcp") for net in config.networks.values()]

    def applies(cid: str) -> bool:
        if cid == "heartbeat":
            return bool(config.section("heartbeat").peers_of("gcp"))
        return any(why_skipped(CHECKS[cid], ctx) is None for ctx in contexts)

    return [cid for cid in CHECKS if applies(cid)]


def remedy_networks(config: Config) -> dict[str, list[str]]:
    """remedy -> the networks whose policy enables it on GCP (`runs_on = "gcp"`). A restore
    failover runs where it restores a persistent-disk snapshot into a replacement VM; restoring
    an archive needs a launcher only the devnet has, so such networks are left out."""
    policy = config.section("remediation")
    out: dict[str, list[str]] = {}
    for name in config.networks:
        net = policy.for_network(name)
        if net.runs_on != "gcp":
            continue
        for remedy in REMEDIES:
            section = getattr(net, remedy)
            if section is None or (remedy == "failover" and section.strategy == "restore"
                                   and section.replacement_instance is None):
                continue  # restoring an archive needs a launcher only the devnet has
            out.setdefault(remedy, []).append(name)
    return out


# A subscription filter names the networks it routes while they fit in Pub/Sub's 256 bytes (about
# five or six names of six letters). Past that it requires only that a finding names a network, and the
# receiving function is the routing: the pager and the remedy function refuse, acknowledged and
# logged, a finding of a network the filter would have left out (gcp/main.py; docs/gcp.md).
ANY_NETWORK = "attributes:network"


def names_networks(expression: str) -> bool:
    """False when the filter fell back to ANY_NETWORK (the function refuses instead)."""
    return ANY_NETWORK not in expression.split(" AND ")


def remedy_filter(remedy: str, networks: Sequence[str]) -> str:
    """Only firing findings of the remedy's trigger check on its networks reach it (on too many
    networks to name: of any network, and the remedy function refuses the others)."""
    from ..remedies.request import TRIGGERS

    [check] = [c for c, r in TRIGGERS.items() if r == remedy]
    base = (filters.equals("check", check), filters.equals("status", "firing"))
    return filters.narrowest((*base, filters.any_of("network", sorted(networks))), (*base, ANY_NETWORK))


def pager_filter(config: Config) -> str:
    """The pager reads every finding of the configured networks: ok findings resolve incidents (on
    too many networks to name: of any network, and the pager refuses the unconfigured ones)."""
    return filters.narrowest((filters.any_of("network", sorted(config.networks)), "attributes:check",
                              "attributes:status"), (ANY_NETWORK, "attributes:check", "attributes:status"))


def _routing_note(expression: str, who: str) -> str:
    if names_networks(expression):
        return ""
    return (f"; its networks do not fit in a {filters.MAX_FILTER_BYTES}-byte filter, so it passes every network "
            f"and {who} refuses (acknowledged, logged) a finding of a network not routed to it")


_FUNDER_SECRET = re.compile(
    r"gcp-secretmanager:projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)(/versions/[^/]+)?")


def check_policy_names(config: Config) -> None:
    """The [remediation] values that reach the plan (resource names, IAM conditions), matched whole
    against GCP's grammars: ConfigError naming each bad one by its dotted path."""
    policy = config.section("remediation")
    problems: list[str] = []

    def need(where: str, kind: str, value: str | None) -> None:
        if value is not None and not GCP_NAMES[kind][0].fullmatch(value):
            problems.append(f"{where}: expected {GCP_NAMES[kind][1]}, got {value!r}")

    for name in config.networks:
        net = policy.for_network(name)
        if net.runs_on != "gcp":
            continue
        where = f"remediation.networks.{name}"
        if net.topup is not None and (net.topup.secret or "").startswith("gcp-secretmanager:"):
            ref = _FUNDER_SECRET.fullmatch(net.topup.secret or "")
            if ref is None or not GCP_NAMES["project"][0].fullmatch(ref["project"]) \
                    or not GCP_NAMES["secret"][0].fullmatch(ref["secret"]):
                problems.append(f"{where}.topup.secret: expected 'gcp-secretmanager:projects/P/secrets/S' with a "
                                f"project id and a secret id, got {net.topup.secret!r}")
        if net.snapshot is not None:
            need(f"{where}.snapshot.bucket", "bucket", net.snapshot.bucket)
            need(f"{where}.snapshot.project", "project", net.snapshot.project)
            need(f"{where}.snapshot.zone", "zone", net.snapshot.zone)
            need(f"{where}.snapshot.disk", "resource", net.snapshot.disk)
        if net.failover is not None:
            need(f"{where}.failover.dns_zone_id", "resource", net.failover.dns_zone_id)
    if problems:
        raise ConfigError(problems)


SECRET_PAYLOAD_MAX = 64 * 1024  # Secret Manager's limit on one secret version's payload


def check_config_secret_size(config: Config, s: GcpSettings) -> None:
    """With `config_secret`, the TOML must fit in one secret version: refuse at plan time, not when
    the operator adds the version. Reads only the size of the file the config came from, if any."""
    path = Path(config.source) if config.source else None
    if not s.config_secret or path is None or not path.is_file():
        return
    size = path.stat().st_size
    if size > SECRET_PAYLOAD_MAX:
        raise ConfigError([f"gcp.config_secret: {path.name} is {size} bytes, over the {SECRET_PAYLOAD_MAX} bytes "
                           "Secret Manager keeps in one secret version: drop config_secret (the TOML then ships in "
                           "the functions' source) or split the networks across deployments (another [gcp] prefix)"])


def functions(config: Config, s: GcpSettings) -> list[FunctionSpec]:
    check_policy_names(config)
    check_config_secret_size(config, s)
    common: list[tuple[str, str]] = []  # the config's location, secret and resource names only
    if s.config_secret:
        config_env = ("OPWATCH_CONFIG_SECRET", s.secret_path(s.config_secret))
    else:
        config_env = ("OPWATCH_CONFIG", "opwatch.toml")
    if memory_database(s) in (s.firestore_database, s.remedy_store_database):
        raise ConfigError([f"gcp: the checks' memory database {memory_database(s)!r} must differ from the alert "
                           "and remedy databases (firestore_database, remedy_database)"])
    out = []
    for cid in check_ids(config, s):
        env = [*common, config_env, ("OPWATCH_FINDINGS_TOPIC", s.topic_path(s.findings_topic)),
               ("OPWATCH_MEMORY_STORE", f"firestore:{s.project}/{memory_database(s)}")]
        out.append(FunctionSpec(s.name(cid), cid, s.service_account(cid), s.name("tick", cid), tuple(env)))
    # The pager reads the config too ([alerting]: routes, timings, silences); its store names the
    # project, so no call depends on what the default credentials happen to belong to.
    out.append(FunctionSpec(s.name("pager"), "pager", s.service_account("pager"), "", (
        *common, config_env, ("OPWATCH_STATE_STORE", f"firestore:{s.project}/{s.firestore_database}"),
        ("OPWATCH_PAGERDUTY_SECRET", s.secret_path(s.pagerduty_secret))),
        max_instances=pager_max_instances(config, s)))
    remediation = config.section("remediation")
    for remedy, networks in remedy_networks(config).items():
        restores = remedy == "failover" and any(remediation.for_network(n).failover.strategy == "restore"
                                                for n in networks)
        env = [*common, config_env, ("OPWATCH_REMEDIES", "failover,restore" if restores else remedy),
               ("OPWATCH_REMEDY_STORE", f"firestore:{s.project}/{s.remedy_store_database}")]
        if remedy == "failover":
            env.append(("OPWATCH_PAGERDUTY_SECRET", s.secret_path(s.pagerduty_secret)))
        timeout = remedy_timeout_s(config, remedy, networks)
        # Ingress "all": an operator invokes it by hand from outside the VPC; IAM still decides who.
        out.append(FunctionSpec(s.name("remedy", remedy), "remedy", s.service_account(f"remedy-{remedy}"), "",
                                tuple(env), role=f"remedy-{remedy}", timeout_s=timeout, ingress="all"))
    return out


# Beyond its waits, a remedy reads config, secrets and the chain, claims, signs and records: five
# minutes, what the plan gave a whole remedy before its waits were counted.
REMEDY_WORK_S = 300
HTTP_TIMEOUT_MAX_S = 3600  # Cloud Functions gen2, HTTP trigger


def remedy_timeout_s(config: Config, remedy: str, networks: Sequence[str]) -> int:
    """Above the longest wait of the remedy on any of its networks (remedies/permissions.py), so the
    platform never kills a run midway (a sent payment unrecorded, a disk attached and not started)."""
    from ..remedies.permissions import longest_wait_s

    policy = config.section("remediation")
    waits = {n: longest_wait_s(remedy, policy.for_network(n)) for n in networks}
    timeout = int(max(waits.values(), default=0.0)) + REMEDY_WORK_S
    if timeout > HTTP_TIMEOUT_MAX_S:
        worst = max(waits, key=lambda n: waits[n])
        raise ConfigError([f"remediation.networks.{worst}.{remedy}: waits up to {waits[worst]:.0f} s, which with "
                           f"{REMEDY_WORK_S} s of work exceeds a Cloud Function's {HTTP_TIMEOUT_MAX_S} s: shorten it"])
    return timeout


def render_plan(config: Config, s: GcpSettings) -> list[Step]:
    schedules: Schedules = config.section("schedules")
    fns = functions(config, s)
    checks = [f for f in fns if f.trigger_topic]
    pager = next(f for f in fns if f.name == s.name("pager"))
    remedies = [f for f in fns if f.entry_point == "remedy"]
    dead = s.name("findings", "dead")
    steps: list[Step] = [Step("APIs the deployment uses", gcloud("services", "enable", *APIS, settings=s))]

    # --- identities: one service account per function, one for push delivery -----------
    for role in [*(f.identity for f in fns), "push"]:
        sa_id = s.name(role)
        steps.append(Step(
            f"service account for {role}",
            describe=gcloud("iam", "service-accounts", "describe", s.service_account(role), settings=s),
            create=gcloud("iam", "service-accounts", "create", sa_id, f"--display-name=opwatch {role}", settings=s)))

    # --- secrets: referenced, never created with a value -------------------------------
    secrets = [s.pagerduty_secret] + ([s.config_secret] if s.config_secret else []) + funder_secrets(config) + \
        [name for name in sink_secrets(config) if name not in (s.pagerduty_secret, s.config_secret)]
    for secret in secrets:
        steps.append(Step(
            f"secret {secret} must exist (add a version yourself; the plan never holds a value)",
            describe=gcloud("secrets", "describe", secret, settings=s),
            require=f"create secret {secret} first: gcloud secrets create {secret} --project={s.project} "
                    "--data-file=-"))

    # --- topics ------------------------------------------------------------------------
    for topic in [s.findings_topic, dead, *(f.trigger_topic for f in checks)]:
        steps.append(Step(f"topic {topic}", describe=gcloud("pubsub", "topics", "describe", topic, settings=s),
                          create=gcloud("pubsub", "topics", "create", topic, settings=s)))

    # --- alert state ---------------------------------------------------------------------
    databases: list[tuple[str, str, tuple[str, ...], str]] = [
        ("alert state", s.firestore_database, TTL_COLLECTIONS, "history and closed alerts"),
        ("check memory", memory_database(s), MEMORY_TTL_COLLECTIONS, "old observations")]
    if remedies:  # its own database: only the remedy functions' accounts may write caps, claims and leases
        databases.append(("remedy state (caps, claims, leases, audit)", s.remedy_store_database,
                          REMEDY_TTL_COLLECTIONS, "leases and audit records"))
    for purpose, database, collections, what in databases:
        db = f"--database={database}"
        steps.append(Step(f"Firestore database for {purpose}",
                          describe=gcloud("firestore", "databases", "describe", db, settings=s),
                          create=gcloud("firestore", "databases", "create", db, f"--location={s.region}",
                                        "--type=firestore-native", settings=s)))
        steps += [Step(f"TTL on {collection}.expires_at ({what} age out)",
                       create=gcloud("firestore", "fields", "ttls", "update", "expires_at",
                                     f"--collection-group={collection}", "--enable-ttl", db, "--async", settings=s))
                  for collection in collections]
    beats = config.section("heartbeat")
    own = beats.own("gcp")
    if own is not None:
        bucket = f"gs://{own.bucket}"
        steps.append(Step(f"heartbeat bucket {bucket}",
                          describe=gcloud("storage", "buckets", "describe", bucket, settings=s),
                          create=gcloud("storage", "buckets", "create", bucket, f"--location={s.region}",
                                        "--uniform-bucket-level-access", "--public-access-prevention", settings=s)))
        # The AWS watchdog reads these beats with an HMAC key of this account (Cloud Storage's XML API):
        # it may view objects of this bucket only. The key is made by hand and kept in AWS's Secrets
        # Manager (`[heartbeat.gcp] read_key`): the plan never holds a secret.
        reader = s.service_account("beat-reader")
        steps.append(Step("service account for beat-reader (the AWS side reads this side's beats as it)",
                          describe=gcloud("iam", "service-accounts", "describe", reader, settings=s),
                          create=gcloud("iam", "service-accounts", "create", s.name("beat-reader"),
                                        "--display-name=opwatch beat-reader", settings=s)))
        steps.append(Step(f"beat-reader: roles/storage.objectViewer on {bucket} (then: gcloud storage hmac create "
                          f"{reader}, into the AWS secret read_key names)",
                          create=gcloud("storage", "buckets", "add-iam-policy-binding", bucket,
                                        f"--member=serviceAccount:{reader}", "--role=roles/storage.objectViewer",
                                        settings=s)))

    stores = snapshot_stores(config, reader=False) + snapshot_stores(config, reader=True) + restore_grants(config)
    custom = roles.custom_roles()
    for role_id, project in sorted({(g.role.removeprefix("custom:"), s.project if g.on == "dns_zone" else where)
                                    for g, where, _ in stores if g.role.startswith("custom:")}):
        perms = f"--permissions={','.join(custom[role_id])}"
        steps.append(Step(
            f"custom role {role_id} in {project}: exactly the permissions the code calls",
            describe=("gcloud", "iam", "roles", "describe", role_id, f"--project={project}"),
            create=("gcloud", "iam", "roles", "create", role_id, f"--project={project}", f"--title={role_id}",
                    perms, "--stage=GA"),
            update=("gcloud", "iam", "roles", "update", role_id, f"--project={project}", perms, "--quiet")))
    for bucket in sorted({where for g, where, _ in snapshot_stores(config, reader=False)
                          if g.on == "snapshot_bucket"}):
        steps.append(Step(f"snapshot bucket gs://{bucket}",
                          describe=gcloud("storage", "buckets", "describe", f"gs://{bucket}", settings=s),
                          create=gcloud("storage", "buckets", "create", f"gs://{bucket}", f"--location={s.region}",
                                        "--uniform-bucket-level-access", "--public-access-prevention", settings=s)))

    # --- functions -----------------------------------------------------------------------
    for f in fns:
        steps.append(Step(f"function {f.name} (entry point {f.entry_point})", create=deploy_function(f, s)))

    # --- least-privilege bindings (roles.py says why each exists) ---------------------------
    for f in fns:
        if f.entry_point == "remedy":
            steps += remedy_bindings(config, f, s)
            continue
        grants: tuple[roles.Grant, ...] = roles.CHECK if f.trigger_topic else roles.PAGER
        if f.entry_point == BEAT_WRITER and own is not None:
            grants = grants + roles.BEAT_WRITER
        for grant in grants:
            step = bind(grant, f"serviceAccount:{f.service_account}", f.name, s, own.bucket if own else "")
            if step is not None:
                steps.append(step)
        if f.entry_point == "pager":
            steps += [step for name in sink_secrets(config)
                      if (step := bind(roles.SINK_SECRET, f"serviceAccount:{f.service_account}", f.name, s, name))]
        if f.entry_point == "heartbeat":
            steps += [step for peer in beats.peers_of("gcp") if peer.read_key.startswith("gcp-secretmanager:")
                      if (step := bind(roles.BEAT_READER[0], f"serviceAccount:{f.service_account}", f.name, s,
                                       peer.read_key.partition(":")[2].split("/versions/")[0]))]
        if f.entry_point == "snapshot_freshness":
            steps += [step for grant, where, cond in snapshot_stores(config, reader=True)
                      if (step := bind(grant, f"serviceAccount:{f.service_account}", f.name, s, where, cond))]
    for grant in roles.PUSH:
        step = bind(grant, f"serviceAccount:{s.service_account('push')}", pager.name, s)
        assert step is not None
        steps.append(step)
    for f in remedies:
        for grant in roles.PUSH_REMEDY:
            step = bind(grant, f"serviceAccount:{s.service_account('push')}", f.name, s)
            assert step is not None
            steps.append(step)
    agent = f"serviceAccount:{s.pubsub_agent}"
    steps.append(Step("Pub/Sub mints OIDC tokens for the push identity",
                      create=gcloud("iam", "service-accounts", "add-iam-policy-binding", s.service_account("push"),
                                    f"--member={agent}", "--role=roles/iam.serviceAccountTokenCreator", settings=s)))
    steps.append(Step("Pub/Sub forwards undeliverable findings to the dead-letter topic",
                      create=gcloud("pubsub", "topics", "add-iam-policy-binding", dead, f"--member={agent}",
                                    "--role=roles/pubsub.publisher", settings=s)))

    # --- subscriptions ----------------------------------------------------------------------
    sub = s.name("pager")
    url = s.function_url(pager.name)
    push = (f"--push-endpoint={url}", f"--push-auth-service-account={s.service_account('push')}",
            f"--push-auth-token-audience={url}", f"--dead-letter-topic={dead}",
            f"--max-delivery-attempts={s.max_delivery_attempts}", "--ack-deadline=60",
            "--min-retry-delay=10s", "--max-retry-delay=600s")
    routing = pager_filter(config)
    steps.append(Step(
        f"push subscription {sub}: findings → pager (the filter is fixed at creation)"
        f"{_routing_note(routing, 'the pager')}",
        describe=gcloud("pubsub", "subscriptions", "describe", sub, settings=s),
        create=gcloud("pubsub", "subscriptions", "create", sub, f"--topic={s.findings_topic}",
                      f"--message-filter={routing}", *push, settings=s),
        update=gcloud("pubsub", "subscriptions", "update", sub, *push, settings=s)))
    steps.append(Step("Pub/Sub acknowledges from the pager subscription once it dead-letters",
                      create=gcloud("pubsub", "subscriptions", "add-iam-policy-binding", sub, f"--member={agent}",
                                    "--role=roles/pubsub.subscriber", settings=s)))
    for f in remedies:
        remedy = f.role.removeprefix("remedy-")
        rurl = s.function_url(f.name)
        rpush = (f"--push-endpoint={rurl}", f"--push-auth-service-account={s.service_account('push')}",
                 f"--push-auth-token-audience={rurl}", f"--dead-letter-topic={dead}",
                 f"--max-delivery-attempts={s.max_delivery_attempts}", "--ack-deadline=600",
                 "--min-retry-delay=10s", "--max-retry-delay=600s")
        routing = remedy_filter(remedy, remedy_networks(config)[remedy])
        steps.append(Step(
            f"push subscription {f.name}: firing findings → {remedy} (the filter is fixed at creation)"
            f"{_routing_note(routing, f'the {remedy} function')}",
            describe=gcloud("pubsub", "subscriptions", "describe", f.name, settings=s),
            create=gcloud("pubsub", "subscriptions", "create", f.name, f"--topic={s.findings_topic}",
                          f"--message-filter={routing}", *rpush, settings=s),
            update=gcloud("pubsub", "subscriptions", "update", f.name, *rpush, settings=s)))
        steps.append(Step(f"Pub/Sub acknowledges from {f.name} once it dead-letters",
                          create=gcloud("pubsub", "subscriptions", "add-iam-policy-binding", f.name,
                                        f"--member={agent}", "--role=roles/pubsub.subscriber", settings=s)))
    steps.append(Step(f"pull subscription {dead}: keeps dead letters for inspection (7 days)",
                      describe=gcloud("pubsub", "subscriptions", "describe", dead, settings=s),
                      create=gcloud("pubsub", "subscriptions", "create", dead, f"--topic={dead}",
                                    "--message-retention-duration=7d", settings=s)))

    # --- schedules --------------------------------------------------------------------------
    for f in checks:
        job = s.name(f.entry_point)
        args = (job, f"--location={s.region}", f"--schedule={schedules.cron(f.entry_point)}", "--time-zone=Etc/UTC",
                f"--topic={f.trigger_topic}", f'--message-body={{"check": "{f.entry_point}"}}')
        steps.append(Step(
            f"every {schedules.every(f.entry_point)} min: {f.entry_point}",
            describe=gcloud("scheduler", "jobs", "describe", job, f"--location={s.region}", settings=s),
            create=gcloud("scheduler", "jobs", "create", "pubsub", *args, settings=s),
            update=gcloud("scheduler", "jobs", "update", "pubsub", *args, settings=s)))

    # --- self-watch ---------------------------------------------------------------------------
    steps.append(Step("self-watch: alert policies on function errors and dead letters, e-mail to [gcp] "
                      "alarm_emails (looked up by name, then created or updated: deploy/gcp_monitoring.py)",
                      create=gcp_monitoring.converge_argv(s, s.alarm_emails)))
    return steps


# The pager takes one push delivery at a time per instance. Each network sends it about 11
# findings a minute on default schedules (bench/results/monthly.json), arriving together at the
# minute's ticks, so its instances grow with the networks: one per network, never fewer than
# `max_instances`, at most Cloud Run's 100 here. Too few, and pushes are refused (429) and
# retried with backoff: findings late by minutes, then dead-lettered after max_delivery_attempts.
PAGER_MAX_INSTANCES = 100


def pager_max_instances(config: Config, s: GcpSettings) -> int:
    return min(PAGER_MAX_INSTANCES, max(s.max_instances, len(config.networks)))


def deploy_function(f: FunctionSpec, s: GcpSettings) -> tuple[str, ...]:
    env = ",".join(f"{k}={v}" for k, v in f.env)
    args = ["functions", "deploy", f.name, "--gen2", f"--region={s.region}", f"--runtime={s.runtime}",
            f"--source={s.source}", f"--entry-point={f.entry_point}", f"--service-account={f.service_account}",
            f"--memory={s.memory}", f"--timeout={f.timeout_s or s.timeout_s}s",
            f"--max-instances={f.max_instances or s.max_instances}",
            f"--ingress-settings={f.ingress}", "--no-allow-unauthenticated"]
    if f.trigger_topic:
        # No --retry: a failed run is superseded by the next tick, not replayed late.
        args += [f"--trigger-topic={f.trigger_topic}", f"--trigger-service-account={f.service_account}"]
    else:
        args += ["--trigger-http"]
    # gcloud's alternate-delimiter syntax, since values may hold commas (never a '|').
    if any("|" in v for _, v in f.env):
        raise ValueError(f"{f.name}: an environment value holds '|', which the plan cannot pass to gcloud")
    args += [f"--set-env-vars=^|^{'|'.join(f'{k}={v}' for k, v in f.env)}" if any("," in v for _, v in f.env)
             else f"--set-env-vars={env}", "--quiet"]
    return gcloud(*args, settings=s)


def sink_secrets(config: Config) -> list[str]:
    """The Secret Manager secrets the pager's declared sinks read (`[alerting.sinks.<name>] secret`):
    a short name (in this project, as the pager resolves it) or `projects/P/secrets/S`."""
    return sorted({spec.secret.split("/versions/")[0] for spec in config.section("alerting").sinks.values()
                   if spec.secret})


def funder_secrets(config: Config) -> list[str]:
    """The Secret Manager secrets (short names) GCP top-ups read their funder key from."""
    policy = config.section("remediation")
    out: list[str] = []
    for name in remedy_networks(config).get("topup", []):
        secret = policy.for_network(name).topup.secret or ""
        if secret.startswith("gcp-secretmanager:"):
            out.append(secret.split("/secrets/")[1].split("/")[0])
    return sorted(set(out))


Scoped = tuple[roles.Grant, str, str]  # (grant, bucket / project / managed zone, IAM condition or "")


def snapshot_stores(config: Config, reader: bool, networks: Sequence[str] | None = None) -> list[Scoped]:
    """(grant, bucket or project, condition) for the GCP-kept snapshots of `networks` (default: all)."""
    from ..gcp.gce_disk import NAME_PREFIX

    policy = config.section("remediation")
    out: list[Scoped] = []
    for name in networks if networks is not None else list(config.networks):
        net = policy.for_network(name)
        snap = net.snapshot
        if snap is None or net.runs_on != "gcp":
            continue
        if snap.provider == "gcs":
            gcs: tuple[roles.Grant, ...] = roles.SNAPSHOT_READER_GCS if reader else roles.SNAPSHOT_GCS
            out += [(g, snap.bucket or "", "") for g in gcs]
        elif snap.provider == "gce-disk":
            p, z = f"projects/{snap.project}", f"projects/{snap.project}/zones/{snap.zone}"
            snapshots = f'resource.name.startsWith("{p}/global/snapshots/{NAME_PREFIX}")'
            writes = " || ".join((within(f"{z}/disks/{snap.disk}"), snapshots,
                                  f'resource.name.startsWith("{z}/operations/")',
                                  f'resource.name.startsWith("{p}/global/operations/")'))
            grants = roles.SNAPSHOT_READER_GCE_DISK if reader else roles.SNAPSHOT_GCE_DISK
            out += [(g, snap.project or "", _condition(g, snapshots if reader else writes)) for g in grants]
    return list(dict.fromkeys(out))


def restore_grants(config: Config, networks: Sequence[str] | None = None) -> list[Scoped]:
    """(grant, project or managed zone, condition) for the restore failovers of `networks` on GCP:
    the one replacement VM, the disks and snapshots opwatch names, the sequencer's managed zone."""
    from ..gcp.gce_disk import NAME_PREFIX

    policy = config.section("remediation")
    out: list[Scoped] = []
    for name in networks if networks is not None else list(config.networks):
        net = policy.for_network(name)
        fo, snap = net.failover, net.snapshot
        if net.runs_on != "gcp" or fo is None or fo.strategy != "restore" or fo.replacement_instance is None \
                or snap is None:
            continue
        p = f"projects/{snap.project}"
        zone = f"{p}/{fo.replacement_instance.rsplit('/instances/', 1)[0]}"
        snapshots = f'resource.name.startsWith("{p}/global/snapshots/{NAME_PREFIX}")'
        launch = " || ".join((f'resource.name == "{p}/{fo.replacement_instance}"',
                              f'resource.name.startsWith("{zone}/disks/{NAME_PREFIX}")', snapshots,
                              f'resource.name.startsWith("{zone}/operations/")'))
        conditions = {"custom:opwatchDiskSnapshotReader": snapshots, "custom:opwatchRestore": launch}
        out += [(g, snap.project or "", _condition(g, conditions.get(g.role, ""))) for g in roles.RESTORE_GCE]
        if fo.dns_zone_id is not None:
            out += [(g, fo.dns_zone_id, "") for g in roles.RESTORE_DNS]
    return list(dict.fromkeys(out))


def _condition(grant: roles.Grant, condition: str) -> str:
    """Every project-wide Compute Engine grant carries its condition, except listing (roles.py)."""
    listing = set(roles.custom_roles().get(grant.role.removeprefix("custom:"), ())) <= set(roles.LIST_PERMISSIONS)
    return "" if listing else condition


def remedy_bindings(config: Config, f: FunctionSpec, s: GcpSettings) -> list[Step]:
    """The remedy's base grants, then what each network's policy names, on that resource only."""
    member = f"serviceAccount:{f.service_account}"
    remedy = f.role.removeprefix("remedy-")
    policy = config.section("remediation")
    grants = roles.REMEDY + (roles.FAILOVER_PAGES if remedy == "failover" else ())
    steps = [step for g in grants if (step := bind(g, member, f.name, s)) is not None]
    for name in remedy_networks(config)[remedy]:
        net = policy.for_network(name)
        if remedy == "topup" and net.topup is not None and (net.topup.secret or "").startswith("gcp-secretmanager:"):
            secret = (net.topup.secret or "").split("/secrets/")[1].split("/")[0]
            steps += [step for g in roles.TOPUP_LOCAL_SIGNER if (step := bind(g, member, f.name, s, secret))]
        if remedy == "snapshot":
            steps += [step for g, where, cond in snapshot_stores(config, reader=False, networks=[name])
                      if (step := bind(g, member, f.name, s, where, cond))]
        if remedy == "failover":
            steps += [step for g, where, cond in restore_grants(config, [name])
                      if (step := bind(g, member, f.name, s, where, cond))]
    unique: dict[tuple[str, ...], Step] = {step.create: step for step in steps}
    return list(unique.values())


def bind(grant: roles.Grant, member: str, function: str, s: GcpSettings, resource: str = "",
         condition: str = "") -> Step | None:
    name = grant.role
    if name.startswith("custom:"):
        home = s.project if grant.on == "dns_zone" else resource or s.project
        name = f"projects/{home}/roles/{name.removeprefix('custom:')}"
    role = f"--role={name}"
    who = f"--member={member}"
    why = f"{member.split(':')[1].split('@')[0]}: {grant.role} on {grant.on} ({grant.why})"
    if grant.on == "findings_topic":
        argv = gcloud("pubsub", "topics", "add-iam-policy-binding", s.findings_topic, who, role, settings=s)
    elif grant.on in ("config_secret", "pagerduty_secret"):
        secret = s.config_secret if grant.on == "config_secret" else s.pagerduty_secret
        if not secret:
            return None
        argv = gcloud("secrets", "add-iam-policy-binding", secret, who, role, settings=s)
    elif grant.on in ("self", "pager"):
        target = function if grant.on == "self" else s.name("pager")
        argv = gcloud("functions", "add-invoker-policy-binding", target, f"--region={s.region}", who, settings=s)
    elif grant.on in ("firestore", "remedy_firestore", "memory_firestore"):
        # Firestore IAM is granted on the project; the condition narrows it to one database.
        db, title = {"firestore": (s.firestore_database, "opwatch-alert-state"),
                     "remedy_firestore": (s.remedy_store_database, "opwatch-remedy-state"),
                     "memory_firestore": (memory_database(s), "opwatch-check-memory")}[grant.on]
        database = f"projects/{s.project}/databases/{db}"
        argv = ("gcloud", "projects", "add-iam-policy-binding", s.project, who, role,
                f"--condition=expression={within(database)},title={title}")
    elif grant.on == "heartbeat_bucket":
        argv = gcloud("storage", "buckets", "add-iam-policy-binding", f"gs://{resource}", who, role, settings=s)
    elif grant.on in ("beat_key_secret", "sink_secret"):
        argv = gcloud("secrets", "add-iam-policy-binding", resource, who, role, settings=s)
    elif grant.on == "funder_secret":
        argv = gcloud("secrets", "add-iam-policy-binding", resource, who, role, settings=s)
    elif grant.on == "snapshot_bucket":
        argv = gcloud("storage", "buckets", "add-iam-policy-binding", f"gs://{resource}", who, role, settings=s)
    elif grant.on == "project":
        if not grant.role.startswith("custom:"):  # pragma: no cover - project-wide needs a narrow role
            raise ValueError(f"{grant.role}: project-wide grants use opwatch's custom roles")
        argv = ("gcloud", "projects", "add-iam-policy-binding", resource or s.project, who, role)
        if condition:
            argv += (f"--condition=expression={condition},title={grant.role.removeprefix('custom:').lower()}",)
    elif grant.on == "dns_zone":
        argv = gcloud("dns", "managed-zones", "add-iam-policy-binding", resource, who, role, settings=s)
    else:  # pragma: no cover - a new Grant.on without a renderer
        raise ValueError(f"no binding renderer for {grant.on!r}")
    return Step(why, create=argv)


def within(name: str) -> str:
    """An IAM condition for `name` and what lies under it, never a sibling: a bare startsWith on
    `.../databases/opwatch` would also grant `.../databases/opwatch-remedies`."""
    return f'resource.name == "{name}" || resource.name.startsWith("{name}/")'


# --- output -------------------------------------------------------------------------------

def to_shell(steps: Sequence[Step], header: str = "") -> str:
    lines = ["#!/usr/bin/env bash",
             "# Rendered by `opwatch gcp deploy --dry-run`: review, then run (re-running converges).",
             *(f"# {h}" for h in header.splitlines() if h), "set -euo pipefail", ""]
    for step in steps:
        lines.append(comment_line(step.comment))
        lines.append(shell_line(step))
    return "\n".join(lines) + "\n"


def comment_line(text: str) -> str:
    """`# text`, refused unless it stays one inert line: bash ends a comment at the first newline,
    and what follows would run as a command in the script an operator reviews."""
    if not text.isprintable():
        raise ValueError(f"plan comment {text!r} holds a line break or control character")
    return f"# {text}"


def shell_line(step: Step) -> str:
    q = shlex.join
    if step.require:
        return f"{q(step.describe)} >/dev/null || {{ echo {shlex.quote(step.require)} >&2; exit 1; }}"
    if step.describe and step.update:
        return f"if {q(step.describe)} >/dev/null 2>&1; then\n  {q(step.update)}\nelse\n  {q(step.create)}\nfi"
    if step.describe:
        return f"{q(step.describe)} >/dev/null 2>&1 || {q(step.create)}"
    return q(step.create)
