"""IAM of the rendered GCP plan: remedy state apart from alert state, remedies narrowed to the
resources their policy names, and function timeouts above the longest wait of their remedy."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from opwatch.config import parse_config
from opwatch.deploy.gcp_plan import functions, render_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "gcp" / "example.toml").read_text()
ADMIN = 'strategy = "admin"\nstandby_admin = "http://op-node-b:9545"\nstandby_rpc = "http://op-geth-b:8545"'
GCE_DISK = EXAMPLE.replace('provider = "gcs"\nbucket = "opwatch-example-snapshots"',
                           'provider = "gce-disk"\nproject = "opwatch-example"\nzone = "europe-west1-b"\n'
                           'disk = "sequencer-data"')
RESTORE = GCE_DISK.replace(ADMIN, 'strategy = "restore"\n'
                                  'replacement_instance = "zones/europe-west1-c/instances/seq-b"\n'
                                  'replacement_rpc = "http://10.1.0.5:8545"\ndns_zone_id = "l2-internal"\n'
                                  'dns_record = "sequencer.l2.internal."')


def plan_of(text: str, **overrides: str):  # type: ignore[no-untyped-def]
    config = parse_config(text)
    settings = replace(config.section("gcp").with_overrides(), **overrides)
    return config, settings, [list(a) for step in render_plan(config, settings) for a in step.argvs()]


def condition_allows(condition: str, name: str) -> bool:
    """Evaluate the subset of CEL the plan renders: `resource.name == "X"` and
    `resource.name.startsWith("X")` clauses joined by `||`."""
    clauses = condition.split(" || ")
    out = False
    for clause in clauses:
        if m := re.fullmatch(r'resource\.name == "([^"]*)"', clause):
            out |= name == m[1]
        elif m := re.fullmatch(r'resource\.name\.startsWith\("([^"]*)"\)', clause):
            out |= name.startswith(m[1])
        else:
            raise AssertionError(f"unexpected clause {clause!r}")
    return out


def grants(cmds: list[list[str]], account: str) -> list[tuple[str, str, str]]:
    """(role, resource after the verb, condition or '') of each binding to this account."""
    out = []
    for c in cmds:
        if f"--member=serviceAccount:{account}" not in c or not any(a.endswith("-policy-binding") for a in c):
            continue
        verb = next(i for i, a in enumerate(c) if a.endswith("-policy-binding"))
        role = next((a for a in c if a.startswith("--role=")), "--role=roles/run.invoker").removeprefix("--role=")
        cond = next((a for a in c if a.startswith("--condition=")), "")
        expr = re.fullmatch(r"--condition=expression=(.*),title=[a-z0-9-]+", cond)
        out.append((role, c[verb + 1], expr[1] if expr else ""))
    return out


# --- item 5: remedy state apart from alert state ------------------------------------------

@pytest.mark.parametrize("alert_db", ["(default)", "opwatch"])
def test_remedy_state_has_its_own_database_that_the_pager_cannot_reach(alert_db):
    config, s, cmds = plan_of(EXAMPLE, firestore_database=alert_db)
    remedy_db = f"projects/{s.project}/databases/opwatch-remedies"
    alert = f"projects/{s.project}/databases/{alert_db}"
    assert any(c[:4] == ["gcloud", "firestore", "databases", "create"] and "--database=opwatch-remedies" in c
               for c in cmds)
    for collection in ("opwatch_remedy_leases", "opwatch_remedy_audit"):
        [ttl] = [c for c in cmds if f"--collection-group={collection}" in c]
        assert "--database=opwatch-remedies" in ttl
    for f in functions(config, s):
        if f.entry_point == "remedy":
            assert ("OPWATCH_REMEDY_STORE", f"firestore:{s.project}/opwatch-remedies") in f.env
    pager = [g for g in grants(cmds, s.service_account("pager")) if g[0] == "roles/datastore.user"]
    assert len(pager) == 1 and pager[0][2], pager
    for doc in ("", "/documents/opwatch_remedy_claims/x", "/documents/opwatch_remedy_budgets/mainnet"):
        assert not condition_allows(pager[0][2], remedy_db + doc)  # `<db>-remedies` is not `<db>`
    assert condition_allows(pager[0][2], alert) and condition_allows(pager[0][2], alert + "/documents/alert_state/x")
    assert not condition_allows(pager[0][2], alert + "-other/documents/x")
    for remedy in ("topup", "snapshot", "failover"):
        [store] = [g for g in grants(cmds, s.service_account(f"remedy-{remedy}")) if g[0] == "roles/datastore.user"]
        assert condition_allows(store[2], remedy_db + "/documents/opwatch_remedy_claims/x")
        assert not condition_allows(store[2], alert + "/documents/alert_state/x")
        assert not condition_allows(store[2], remedy_db + "-other")


def test_remedy_database_must_differ_from_alert_database():
    from opwatch.config import ConfigError

    with pytest.raises(ConfigError, match=r"gcp\.remedy_database"):
        parse_config(EXAMPLE.replace('prefix = "opwatch"', 'prefix = "opwatch"\nremedy_database = "(default)"'))


# --- item 10 (GCP): every function outlives the longest wait of what it runs -----------------

def deploy_timeouts(cmds: list[list[str]]) -> dict[str, tuple[int, bool]]:
    """function -> (--timeout seconds, HTTP-triggered)."""
    out = {}
    for c in cmds:
        if c[:3] == ["gcloud", "functions", "deploy"]:
            [t] = [int(a.removeprefix("--timeout=").removesuffix("s")) for a in c if a.startswith("--timeout=")]
            out[c[3]] = (t, "--trigger-http" in c)
    return out


@pytest.mark.parametrize("text", [EXAMPLE, GCE_DISK, RESTORE], ids=["gcs-admin", "gce-disk", "gce-restore"])
def test_every_function_timeout_exceeds_the_longest_wait_of_its_remedy(text):
    from opwatch.remedies.permissions import longest_wait_s

    config, s, cmds = plan_of(text)
    timeouts = deploy_timeouts(cmds)
    policy = config.section("remediation").for_network("mainnet")
    for remedy in ("topup", "snapshot", "failover"):
        name = s.name("remedy", remedy)
        if name not in timeouts:
            continue
        seconds, http = timeouts[name]
        wait = longest_wait_s(remedy, policy)
        assert seconds > wait, (name, seconds, wait)
        assert http and seconds <= 3600  # gen2 HTTP functions: at most an hour
    for name, (seconds, http) in timeouts.items():
        assert seconds <= (3600 if http else 540), name


def test_the_declared_waits_cover_the_code_that_waits():
    import inspect

    from opwatch.gcp import gce_disk
    from opwatch.gcp import restore as gcp_restore
    from opwatch.remedies.permissions import longest_wait_s

    policy = parse_config(RESTORE).section("remediation").for_network("mainnet")
    deadline = inspect.signature(gce_disk.PersistentDiskSnapshots.__init__).parameters["operation_timeout_s"].default
    assert longest_wait_s("snapshot", policy) >= deadline + gce_disk.WAIT_TIMEOUT_S
    launch = inspect.signature(gcp_restore.GceDiskLauncher.__init__).parameters["timeout_s"].default
    dns = inspect.signature(gcp_restore.CloudDnsEndpoint.__init__).parameters["timeout_s"].default
    fo = policy.failover
    assert longest_wait_s("failover", policy) >= (fo.stall_after_s + 2 * (launch + gce_disk.WAIT_TIMEOUT_S)
                                                  + fo.replacement_wait_s + dns)


def test_a_wait_no_function_can_outlive_is_a_config_error():
    from opwatch.config import ConfigError

    text = EXAMPLE.replace('recipients = ["batcher", "proposer"]', 'recipients = ["batcher", "proposer"]\n'
                                                                   'receipt_timeout = "2h"')
    with pytest.raises(ConfigError, match=r"remediation\.networks\.mainnet\.topup"):
        plan_of(text)


# --- item 14 (GCP): restore and snapshot roles reach only the configured resources ------------

def _compute_bindings(cmds, account):  # type: ignore[no-untyped-def]
    return {r.rsplit("/", 1)[1]: (where, cond) for r, where, cond in grants(cmds, account)
            if r.startswith("projects/") and "/roles/opwatch" in r}


def test_disk_snapshot_roles_are_conditioned_on_the_disk_and_opwatch_snapshots():
    _, s, cmds = plan_of(GCE_DISK)
    p = "projects/opwatch-example"
    remedy = _compute_bindings(cmds, s.service_account("remedy-snapshot"))
    assert set(remedy) == {"opwatchDiskSnapshots", "opwatchSnapshotList"}
    assert remedy["opwatchSnapshotList"][1] == ""  # list only: checked on the project
    cond = remedy["opwatchDiskSnapshots"][1]
    for allowed in (f"{p}/zones/europe-west1-b/disks/sequencer-data", f"{p}/global/snapshots/opwatch-mainnet-1-2",
                    f"{p}/zones/europe-west1-b/operations/op-1", f"{p}/global/operations/op-2"):
        assert condition_allows(cond, allowed), allowed
    for denied in (f"{p}/zones/europe-west1-b/disks/other", f"{p}/zones/europe-west1-b/disks/sequencer-data-2",
                   f"{p}/global/snapshots/prod-backup", f"{p}/zones/europe-west1-b/instances/seq",
                   "projects/other-project/global/snapshots/opwatch-x"):
        assert not condition_allows(cond, denied), denied
    reader = _compute_bindings(cmds, s.service_account("snapshot_freshness"))
    assert not condition_allows(reader["opwatchDiskSnapshotReader"][1], f"{p}/global/snapshots/prod-backup")


def test_restore_roles_reach_only_the_replacement_vm_opwatch_disks_and_the_managed_zone():
    _, s, cmds = plan_of(RESTORE)
    p, z = "projects/opwatch-example", "projects/opwatch-example/zones/europe-west1-c"
    fo = _compute_bindings(cmds, s.service_account("remedy-failover"))
    cond = fo["opwatchRestore"][1]
    for allowed in (f"{z}/instances/seq-b", f"{z}/disks/opwatch-mainnet-7-1-ab12", f"{z}/operations/op-1",
                    f"{p}/global/snapshots/opwatch-mainnet-7-1"):
        assert condition_allows(cond, allowed), allowed
    for denied in (f"{z}/instances/seq-a", f"{z}/instances/seq-b-2", f"{z}/disks/sequencer-data",
                   "projects/opwatch-example/zones/europe-west1-b/disks/opwatch-x", f"{p}/global/snapshots/golden"):
        assert not condition_allows(cond, denied), denied
    assert not condition_allows(fo["opwatchDiskSnapshotReader"][1], f"{p}/global/snapshots/golden")
    # Every project-wide compute grant has a condition, except the list-only role.
    for c in cmds:
        if c[:3] == ["gcloud", "projects", "add-iam-policy-binding"] and "opwatchSnapshotList" not in " ".join(c):
            assert any(a.startswith("--condition=expression=resource.name") for a in c), c
    [dns] = [c for c in cmds if "--role=projects/opwatch-example/roles/opwatchDnsSwitch" in c]
    assert dns[:6] == ["gcloud", "dns", "managed-zones", "add-iam-policy-binding", "l2-internal",
                       f"--member=serviceAccount:{s.service_account('remedy-failover')}"]
