"""The rendered gcloud plan: the golden file, and what must hold of any rendering."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
from opwatch.config import ConfigError, load_config, parse_config
from opwatch.deploy import gcp_cli, gcp_monitoring
from opwatch.deploy.gcp_plan import functions, pager_filter, render_plan, to_shell
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.gcp import filters

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "gcp" / "example.toml"
GOLDEN = ROOT / "gcp" / "plan.example.sh"


def cli(*argv: str, runner=None) -> int:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    gcp_cli.add_parser(parser.add_subparsers(dest="command"))
    return gcp_cli.run(parser.parse_args(["gcp", *argv]), runner=runner)


@pytest.fixture(scope="module")
def config():  # type: ignore[no-untyped-def]
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def settings(config):  # type: ignore[no-untyped-def]
    return config.section("gcp").with_overrides()


@pytest.fixture(scope="module")
def plan(config, settings):  # type: ignore[no-untyped-def]
    return render_plan(config, settings)


def commands(plan) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [list(argv) for step in plan for argv in step.argvs()]


def test_dry_run_matches_the_golden_file(capsys):
    assert cli("deploy", "--config", str(EXAMPLE), "--dry-run") == 0
    assert capsys.readouterr().out == GOLDEN.read_text(), \
        "regenerate: opwatch gcp deploy --config gcp/example.toml --dry-run > gcp/plan.example.sh"


def test_golden_file_is_valid_bash():
    import subprocess

    assert subprocess.run(["bash", "-n", str(GOLDEN)], check=False).returncode == 0


def test_every_function_has_a_trigger_and_every_check_a_schedule(config, settings, plan):
    from opwatch.checks import CHECKS

    fns = functions(config, settings)
    # Every check that applies to the example's networks (snapshot_freshness: mainnet keeps its
    # snapshots in GCS), the pager, and the remedy function (deployed once per remedy).
    # dispute_games is for fault-proof chains: the example's are L2OutputOracle chains.
    # sequencer_ha and rollup_nodes need conductors / rollup_nodes, which the example does not
    # run (tests/infra/test_ha_checks_deploy.py deploys them where they are named).
    assert {f.entry_point for f in fns} == {*CHECKS, "pager", "remedy"} - {"dispute_games", "sequencer_ha",
                                                                         "rollup_nodes"}
    cmds = commands(plan)
    schedules = config.section("schedules")
    for f in fns:
        deploy = next(c for c in cmds if c[:4] == ["gcloud", "functions", "deploy", f.name])
        assert "--runtime=python312" in deploy and f"--entry-point={f.entry_point}" in deploy
        assert "--no-allow-unauthenticated" in deploy
        if f.trigger_topic:
            assert f"--trigger-topic={f.trigger_topic}" in deploy
            job = [c for c in cmds if c[:5] == ["gcloud", "scheduler", "jobs", "create", "pubsub"]
                   and f"--topic={f.trigger_topic}" in c]
            assert len(job) == 1 and f"--schedule={schedules.cron(f.entry_point)}" in job[0]
        else:
            assert "--trigger-http" in deploy
            sub = [c for c in cmds if c[:4] == ["gcloud", "pubsub", "subscriptions", "create"]
                   and any(a == f"--push-endpoint={settings.function_url(f.name)}" for a in c)]
            assert len(sub) == 1 and any(a.startswith("--dead-letter-topic=") for a in sub[0])


def test_each_check_runs_on_its_schedule_the_default_or_as_configured(plan):
    def schedule(name: str) -> list[str]:
        return next(c for c in commands(plan) if c[:6] == ["gcloud", "scheduler", "jobs", "create", "pubsub", name])

    assert "--schedule=*/2 * * * *" in schedule("opwatch-wallet-runway")  # its default: a drained wallet is urgent
    assert "--schedule=*/5 * * * *" in schedule("opwatch-proposer-freshness")  # [schedules] in gcp/example.toml


def test_pager_filter_routes_every_status_of_configured_networks_and_nothing_else(config, plan):
    expression = pager_filter(config)
    create = next(c for c in commands(plan)
                  if c[:5] == ["gcloud", "pubsub", "subscriptions", "create", "opwatch-pager"])
    assert f"--message-filter={expression}" in create
    for network in ("mainnet", "l3"):
        for status, severity in (("ok", Severity.INFO), ("firing", Severity.CRITICAL), ("unknown", Severity.WARNING)):
            f = Finding(network, "batcher_lag", "safe-head", Status(status), severity, "s", Measure(1, "s"),
                        Measure(2, "s"), "2024-01-01T00:00:00Z")
            assert filters.matches(expression, f.attributes())
    assert not filters.matches(expression, {"network": "testnet", "check": "x", "status": "ok"})
    assert not filters.matches(expression, {"network": "mainnet"})


def test_each_service_account_is_bound_only_on_named_resources(config, settings, plan):
    bindings = [c for c in commands(plan) if "add-iam-policy-binding" in c or "add-invoker-policy-binding" in c]
    members = {a.split("=", 1)[1] for c in bindings for a in c if a.startswith("--member=")}
    own = {f"serviceAccount:{settings.service_account(r)}" for r in [*(f.identity for f in functions(
        config, settings)), "push"]}
    # The beat reader (the AWS side reads this side's beats with its HMAC key) may view that bucket only.
    reader = f"serviceAccount:{settings.service_account('beat-reader')}"
    assert [c for c in bindings if f"--member={reader}" in c] == [[
        "gcloud", "storage", "buckets", "add-iam-policy-binding", "gs://opwatch-example-heartbeats",
        f"--member={reader}", "--role=roles/storage.objectViewer", "--project=opwatch-example"]]
    assert members == own | {reader, f"serviceAccount:{settings.pubsub_agent}"}
    for c in bindings:
        role = next((a for a in c if a.startswith("--role=")), "--role=roles/run.invoker")
        # No primitive roles; an admin role only on one snapshot bucket (the snapshot remedy writes,
        # verifies and prunes there); project-wide only with a condition or opwatch's custom role.
        assert not re.search(r"roles/(owner|editor|viewer)$", role), c
        if re.search("[aA]dmin", role):
            assert role == "--role=roles/storage.objectAdmin" and c[:3] == ["gcloud", "storage", "buckets"], c
            assert "gs://opwatch-example-snapshots" in c and "opwatch-remedy-snapshot@" in " ".join(c), c
        if c[:3] == ["gcloud", "projects", "add-iam-policy-binding"]:
            assert any(a.startswith("--condition=expression=resource.name") for a in c) or \
                role.startswith("--role=projects/opwatch-example/roles/opwatch"), c
    publishers = [c for c in bindings if "--role=roles/pubsub.publisher" in c and "opwatch-findings" in c]
    checks = [f for f in functions(config, settings) if f.trigger_topic]
    assert len(publishers) == len(checks)  # the pager and push identities cannot publish findings
    pager = f"serviceAccount:{settings.service_account('pager')}"
    assert {next(a for a in c if a.startswith("--role=")) for c in bindings if f"--member={pager}" in c} == {
        "--role=roles/datastore.user", "--role=roles/secretmanager.secretAccessor"}


def test_every_function_runs_as_its_own_service_account(config, settings, plan):
    deploys = [c for c in commands(plan) if c[:3] == ["gcloud", "functions", "deploy"]]
    accounts = [next(a for a in c if a.startswith("--service-account=")) for c in deploys]
    assert len(set(accounts)) == len(deploys)


def test_secrets_are_referenced_never_given_a_value(plan):
    text = to_shell(plan)
    assert "versions add" not in text and "--data-file" not in text.replace("--data-file=-' >&2", "")
    assert "secrets create" not in "\n".join(shlex.join(c) for c in commands(plan))
    assert "https://rpc-2.example/KEY" not in text  # the config (with RPC keys) is a secret, not an env var


def test_every_step_converges_when_rerun(plan):
    for step in plan:
        if step.require:  # a precondition: only describes
            assert step.describe and not step.create
            continue
        if step.create[:2] == ("bash", "-c"):  # looks up by name, then creates or updates (gcp_monitoring)
            assert step.create[2] == gcp_monitoring.CONVERGE  # tests/unit/test_gcp_plan_monitoring.py runs it
            continue
        verb = step.create[:4]
        creates = "create" in verb
        if creates:
            assert step.describe, f"create without describe: {step.create}"
        else:  # deploy, enable, add-*-binding, ttls update: create-or-update by themselves
            assert any(v in step.create for v in ("deploy", "enable", "add-iam-policy-binding",
                                                  "add-invoker-policy-binding", "update")), step.create


def test_execute_follows_describe_or_create_and_stops_on_failure(config, settings, plan, capsys):
    existing = {"opwatch-findings", "opwatch-pager"}
    ran: list[list[str]] = []

    def runner(argv, quiet):  # type: ignore[no-untyped-def]
        ran.append(list(argv))
        if "describe" in argv:
            return 0 if any(name in argv for name in existing) or "secrets" in argv else 1
        return 0

    assert gcp_cli.execute(plan, runner) == 0
    assert ["gcloud", "pubsub", "topics", "create", "opwatch-findings", "--project=opwatch-example"] not in ran
    assert any(c[:4] == ["gcloud", "pubsub", "topics", "create"] and "opwatch-findings-dead" in c for c in ran)
    assert any(c[:5] == ["gcloud", "pubsub", "subscriptions", "update", "opwatch-pager"] for c in ran)
    ran.clear()
    # A missing secret stops the deployment before anything uses it.
    assert gcp_cli.execute(plan, lambda argv, quiet: 1 if "describe" in argv else 0) == 1
    assert "create secret opwatch-pagerduty-routing-key first" in capsys.readouterr().err


def test_cli_names_missing_project_and_number(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text().split("[gcp]")[0])
    assert cli("deploy", "--config", str(path), "--dry-run") == 2
    err = capsys.readouterr().err
    assert "gcp.project:" in err and "gcp.region:" in err and "gcp.project_number:" in err
    assert cli("deploy", "--config", str(path), "--project", "my-project-1", "--region", "us-east1",
               "--project-number", "42", "--dry-run") == 0
    assert "--project=my-project-1" in capsys.readouterr().out


def test_gcp_section_errors_name_their_dotted_paths():
    base = EXAMPLE.read_text().split("[gcp]")[0]
    bad = base + '[gcp]\nruntime = "python3"\nprefix = "A"\ntimeout = "1h"\nmax_instances = 0\nbogus = 1\n'
    with pytest.raises(ConfigError) as exc:
        parse_config(bad)
    text = "\n".join(exc.value.problems)
    for path in ("gcp.runtime", "gcp.prefix", "gcp.timeout", "gcp.max_instances", "gcp.bogus"):
        assert path in text
    with pytest.raises(ConfigError, match=r"gcp\.prefix: service account"):
        parse_config(base + '[gcp]\nprefix = "opwatch-long"\n')


def test_bundle_holds_entry_points_package_and_pinned_requirements(tmp_path, config, settings):
    out = tmp_path / "b"
    gcp_cli.bundle(config, settings, out)
    assert "from opwatch.gcp.main import *" in (out / "main.py").read_text()
    assert (out / "opwatch" / "gcp" / "main.py").is_file() and not list(out.rglob("__pycache__"))
    reqs = (out / "requirements.txt").read_text().splitlines()
    assert all(re.match(r"^[a-z0-9-]+==[0-9.]+$", r) for r in reqs) and any(r.startswith("functions-framework==")
                                                                         for r in reqs)
    assert not (out / "opwatch.toml").exists()  # config_secret is set: RPC keys stay out of the bundle


def test_a_snapshot_policy_configured_earlier_in_the_process_does_not_leak_into_the_plan(config, settings):
    # Another config (a test, a CLI run) with a snapshot policy for a network of the same name
    # was planned before: the plan must still follow only its own config.
    assert "snapshot_freshness" in {f.entry_point for f in functions(config, settings)}
    without = parse_config(EXAMPLE.read_text().split("# mainnet's remedies")[0])
    assert "snapshot_freshness" not in {f.entry_point for f in functions(without, settings)}


# --- remedies on GCP ------------------------------------------------------------------------

def _bindings_of(plan, account: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [c for c in commands(plan) if ("add-iam-policy-binding" in c or "add-invoker-policy-binding" in c)
            and f"--member=serviceAccount:{account}" in c]


def test_each_remedy_function_gets_only_firing_findings_of_its_trigger_on_its_networks(config, settings, plan):
    from opwatch.remedies.request import TRIGGERS

    fns = {f.name: f for f in functions(config, settings) if f.entry_point == "remedy"}
    assert set(fns) == {"opwatch-remedy-topup", "opwatch-remedy-snapshot", "opwatch-remedy-failover"}
    for name, f in fns.items():
        remedy = name.removeprefix("opwatch-remedy-")
        assert ("OPWATCH_REMEDIES", remedy) in f.env and f.ingress == "all"
        assert ("OPWATCH_REMEDY_STORE", "firestore:opwatch-example/opwatch-remedies") in f.env
        [create] = [c for c in commands(plan) if c[:5] == ["gcloud", "pubsub", "subscriptions", "create", name]]
        expression = next(a for a in create if a.startswith("--message-filter=")).split("=", 1)[1]
        [trigger] = [c for c, r in TRIGGERS.items() if r == remedy]
        assert filters.matches(expression, {"check": trigger, "status": "firing", "network": "mainnet"})
        for other in ({"check": trigger, "status": "unknown", "network": "mainnet"},   # never acts on unknown
                      {"check": trigger, "status": "ok", "network": "mainnet"},
                      {"check": trigger, "status": "firing", "network": "l3"},         # l3 has no remedies
                      {"check": "rpc_sync", "status": "firing", "network": "mainnet"}):
            assert not filters.matches(expression, other), (name, other)
        invokers = [c for c in commands(plan) if c[:4] == ["gcloud", "functions", "add-invoker-policy-binding", name]]
        assert [next(a for a in c if a.startswith("--member=")) for c in invokers] == [
            f"--member=serviceAccount:{settings.service_account('push')}"]
    checks_only = [f for f in functions(config, settings) if f.entry_point != "remedy"]
    assert {f.ingress for f in checks_only} == {"internal-only"}


def test_remedy_identities_reach_only_what_their_policy_names(config, settings, plan):
    def roles_on(account: str) -> set[tuple[str, str]]:
        """(role, the resource named right after the binding verb)."""
        out = set()
        for c in _bindings_of(plan, account):
            verb = next(i for i, a in enumerate(c) if a.endswith("-policy-binding"))
            role = next((a for a in c if a.startswith("--role=")), "--role=roles/run.invoker")
            out.add((role.removeprefix("--role="), c[verb + 1]))
        return out

    topup = roles_on(settings.service_account("remedy-topup"))
    assert ("roles/secretmanager.secretAccessor", "opwatch-funder-key") in topup
    snapshot = roles_on(settings.service_account("remedy-snapshot"))
    assert ("roles/storage.objectAdmin", "gs://opwatch-example-snapshots") in snapshot
    failover = roles_on(settings.service_account("remedy-failover"))
    for ident in (snapshot, failover):
        assert ("roles/secretmanager.secretAccessor", "opwatch-funder-key") not in ident
    assert not any("storage" in r for r, _ in topup | failover)
    # Only the failover pages (its own pages: aborted midway, refused unattended).
    assert ("roles/secretmanager.secretAccessor", "opwatch-pagerduty-routing-key") in failover
    assert ("roles/secretmanager.secretAccessor", "opwatch-pagerduty-routing-key") not in topup | snapshot
    assert not any(r == "roles/pubsub.publisher" for r, _ in topup | snapshot | failover)


def _gce_disk_config():  # type: ignore[no-untyped-def]
    text = EXAMPLE.read_text().replace('provider = "gcs"\nbucket = "opwatch-example-snapshots"',
                                       'provider = "gce-disk"\nproject = "opwatch-example"\nzone = "europe-west1-b"\n'
                                       'disk = "sequencer-data"')
    assert 'provider = "gce-disk"' in text
    return parse_config(text)


def test_disk_snapshots_use_custom_roles_with_exactly_the_permissions_the_code_calls(settings):
    from opwatch.gcp.gce_disk import IAM_PERMISSIONS

    config = _gce_disk_config()
    plan = render_plan(config, settings)
    cmds = commands(plan)
    perms = [p for role in ("opwatchDiskSnapshots", "opwatchSnapshotList")
             for c in cmds if c[:5] == ["gcloud", "iam", "roles", "create", role]
             for p in next(a for a in c if a.startswith("--permissions=")).split("=", 1)[1].split(",")]
    assert sorted(perms) == sorted(IAM_PERMISSIONS)
    remedy = _bindings_of(plan, settings.service_account("remedy-snapshot"))
    assert any("--role=projects/opwatch-example/roles/opwatchDiskSnapshots" in c for c in remedy)
    reader = _bindings_of(plan, settings.service_account("snapshot_freshness"))
    # Project-wide Compute Engine roles (its memory's datastore.user is conditioned on its own database).
    assert [next(a for a in c if a.startswith("--role=")) for c in reader
            if c[1] == "projects" and "--role=roles/datastore.user" not in c] == [
        "--role=projects/opwatch-example/roles/opwatchDiskSnapshotReader",
        "--role=projects/opwatch-example/roles/opwatchSnapshotList"]
    assert not any("roles/compute." in a for c in cmds for a in c)  # no predefined compute role at all


def test_remedies_that_run_on_aws_or_restore_are_not_deployed_on_gcp(settings):
    on_aws = parse_config(EXAMPLE.read_text().split("# mainnet's remedies")[0] + (
        '[remediation.networks.mainnet.snapshot]\nprovider = "s3"\nbucket = "b"\n'))
    assert not [f for f in functions(on_aws, settings) if f.entry_point in ("remedy", "snapshot_freshness")]
    restore = parse_config(EXAMPLE.read_text().replace(
        'strategy = "admin"\nstandby_admin = "http://op-node-b:9545"\nstandby_rpc = "http://op-geth-b:8545"',
        'strategy = "restore"'))
    assert "opwatch-remedy-failover" not in {f.name for f in functions(restore, settings)}


def test_every_planned_entry_point_exists_in_the_bundle(config, settings):
    from opwatch.gcp import main

    for f in functions(_gce_disk_config(), settings) + functions(config, settings):
        assert callable(getattr(main, f.entry_point, None)), f.entry_point


def test_a_disk_restore_runs_on_gcp_with_exactly_the_permissions_it_calls(settings):
    from opwatch.gcp.restore import CLOUD_DNS_PERMISSIONS, GCE_LAUNCHER_PERMISSIONS

    text = _gce_disk_config_text().replace(
        'strategy = "admin"\nstandby_admin = "http://op-node-b:9545"\nstandby_rpc = "http://op-geth-b:8545"',
        'strategy = "restore"\nreplacement_instance = "zones/europe-west1-b/instances/seq-standby"\n'
        'replacement_rpc = "http://10.1.0.5:8545"\ndns_zone_id = "l2-internal"\ndns_record = "sequencer.l2.internal."')
    config = parse_config(text)
    [failover] = [f for f in functions(config, settings) if f.name == "opwatch-remedy-failover"]
    assert ("OPWATCH_REMEDIES", "failover,restore") in failover.env and failover.timeout_s > 1800
    plan = render_plan(config, settings)
    cmds = commands(plan)
    for role_id, perms in (("opwatchRestore", GCE_LAUNCHER_PERMISSIONS), ("opwatchDnsSwitch", CLOUD_DNS_PERMISSIONS)):
        [create] = [c for c in cmds if c[:5] == ["gcloud", "iam", "roles", "create", role_id]]
        assert sorted(next(a for a in create if a.startswith("--permissions=")).split("=", 1)[1].split(",")) == \
            sorted(p for p in perms if p != "compute.snapshots.list")
        holders = [c for c in cmds if f"--role=projects/opwatch-example/roles/{role_id}" in c]
        assert [next(a for a in c if a.startswith("--member=")) for c in holders] == [
            f"--member=serviceAccount:{settings.service_account('remedy-failover')}"]


def _gce_disk_config_text() -> str:
    return EXAMPLE.read_text().replace('provider = "gcs"\nbucket = "opwatch-example-snapshots"',
                                       'provider = "gce-disk"\nproject = "opwatch-example"\nzone = "europe-west1-b"\n'
                                       'disk = "sequencer-data"')
