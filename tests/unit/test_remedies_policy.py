"""`[remediation]` validation and the remedy request model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opwatch.config import ConfigError
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.remedies.request import BadRequest, RemedyRequest, refuses_finding
from remedies_fixtures import BATCHER, FUNDER, config_text, load, topup_section


def test_defaults_are_manual_and_off():
    policy = load(config_text()).section("remediation").for_network("devnet")
    assert policy.approval == "manual" and policy.topup is None and not policy.may_run_unattended("topup")


def test_topup_resolves_recipients_from_the_network_and_amounts_exactly():
    policy = load(config_text(remediation=topup_section("/tmp/x.db", target=0.1, per_tx=0.1, per_day=0.3)))
    topup = policy.section("remediation").for_network("devnet").topup
    assert topup.recipients == {"batcher": BATCHER, "proposer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"}
    assert topup.target_balance_wei == 10**17 and topup.max_per_day_wei == 3 * 10**17
    assert topup.funder == FUNDER


def test_auto_needs_both_switches():
    on = load(config_text(remediation=topup_section("/tmp/x.db", auto=True, approval="auto")))
    assert on.section("remediation").for_network("devnet").may_run_unattended("topup")
    half = load(config_text(remediation=topup_section("/tmp/x.db", auto=True, approval="manual")))
    assert not half.section("remediation").for_network("devnet").may_run_unattended("topup")


def test_every_problem_is_named_by_its_path():
    bad = """
[remediation.networks.devnet]
approval = "sometimes"
[remediation.networks.devnet.topup]
funder = "0xnot"
secret = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
target_balance_eth = -1
max_per_tx_eth = 5
max_per_day_eth = 1
recipients = ["batcher", "treasury"]
max_gas_price_gwei = 10
[remediation.networks.devnet.failover]
strategy = "admin"
[remediation.networks.nowhere]
"""
    with pytest.raises(ConfigError) as err:
        load(config_text(remediation=bad))
    text = "\n".join(err.value.problems)
    for path in ("remediation.networks.devnet.approval", "remediation.networks.devnet.topup.funder",
                 "remediation.networks.devnet.topup.secret", "remediation.networks.devnet.topup.target_balance_eth",
                 "remediation.networks.devnet.topup.max_per_tx_eth", "remediation.networks.devnet.topup.recipients",
                 "remediation.networks.devnet.failover.standby_admin", "remediation.networks.nowhere"):
        assert path in text, path
    assert "ac0974bec" not in text  # a key pasted where a reference belongs is not echoed back


def finding(status: Status, check: str = "wallet_runway", observed_at: str = "2024-01-01T00:00:00Z") -> Finding:
    return Finding(network="devnet", check=check, target="batcher", status=status, severity=Severity.CRITICAL,
                   summary="s", observed=Measure(1.0, "h"), threshold=Measure(2.0, "h"), observed_at=observed_at)


def test_a_finding_delivered_twice_is_one_request_and_a_new_observation_another():
    a = RemedyRequest.from_finding(finding(Status.FIRING))
    b = RemedyRequest.from_finding(finding(Status.FIRING))
    c = RemedyRequest.from_finding(finding(Status.FIRING, observed_at="2024-01-01T00:01:00Z"))
    assert a.request_id == b.request_id != c.request_id
    assert a.remedy == "topup" and a.target == "batcher" and not a.approved


def test_only_firing_findings_may_act():
    assert refuses_finding(RemedyRequest.from_finding(finding(Status.UNKNOWN))) is not None
    assert refuses_finding(RemedyRequest.from_finding(finding(Status.OK))) is not None
    assert refuses_finding(RemedyRequest.from_finding(finding(Status.FIRING))) is None
    with pytest.raises(BadRequest):
        RemedyRequest.from_finding(finding(Status.FIRING, check="rpc_sync"))


@given(remedy=st.sampled_from(["topup", "snapshot", "failover", "restore"]), dry=st.booleans(),
       rid=st.from_regex(r"[A-Za-z0-9._:/@-]{1,40}", fullmatch=True),
       who=st.none() | st.text(min_size=1, max_size=10), status=st.sampled_from(list(Status)))
def test_the_payload_round_trips(remedy, dry, rid, who, status):
    request = RemedyRequest(remedy, "devnet", rid, target="batcher", dry_run=dry, approved_by=who,
                            finding=finding(status))
    assert RemedyRequest.from_dict(request.to_dict()) == request


@pytest.mark.parametrize("payload", [
    [], {"remedy": "explode", "network": "n", "request_id": "x"},
    {"remedy": "topup", "network": "n", "request_id": "has space"},
    {"remedy": "topup", "network": "n", "request_id": "x", "dry_run": "yes"},
    {"remedy": "topup", "network": "n", "request_id": "x", "extra": 1},
    {"remedy": "topup", "network": "n", "request_id": "x", "finding": {"status": "firing"}},
])
def test_malformed_payloads_are_refused(payload):
    with pytest.raises(BadRequest):
        RemedyRequest.from_dict(payload)


def _problems(remediation: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(config_text(remediation=remediation))
    return "\n".join(err.value.problems)


GCP = '[remediation.networks.devnet]\nruns_on = "gcp"\n'


def test_each_snapshot_provider_names_what_it_needs():
    where = "remediation.networks.devnet.snapshot"
    text = _problems(GCP + f'[{where}]\nprovider = "gcs"\n')
    assert f"{where}.bucket: required with provider = 'gcs'" in text
    text = _problems(GCP + f'[{where}]\nprovider = "gce-disk"\nzone = "europe-west1-b"\n')
    assert f"{where}.project: required" in text and f"{where}.disk: required" in text and ".zone:" not in text
    text = _problems(GCP + f'[{where}]\nprovider = "gcs"\nbucket = "b"\nendpoint_url = "http://127.0.0.1:5000"\n')
    assert f"{where}.endpoint_url: only applies to provider = 's3'" in text
    disk = load(config_text(remediation=GCP + f'[{where}]\nprovider = "gce-disk"\nproject = "p"\nzone = "z"\n'
                                                     'disk = "d"\n'))
    snap = disk.section("remediation").for_network("devnet").snapshot
    assert (snap.provider, snap.project, snap.zone, snap.disk) == ("gce-disk", "p", "z", "d")


RESTORE = "remediation.networks.devnet.failover"


def test_restore_needs_something_to_restore_from_and_somewhere_to_start_it():
    assert f"{RESTORE}.strategy: 'restore' needs a [snapshot] section" in _problems(
        f'[{RESTORE}]\nstrategy = "restore"\n')
    ebs = '[remediation.networks.devnet.snapshot]\nprovider = "ebs"\nvolume_id = "vol-1"\n'
    assert f"{RESTORE}.replacement_instance: required to restore from ebs snapshots" in _problems(
        ebs + f'[{RESTORE}]\nstrategy = "restore"\n')
    assert f"{RESTORE}.replacement_rpc: required with replacement_instance" in _problems(
        ebs + f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "i-0abc"\n')
    s3 = '[remediation.networks.devnet.snapshot]\nprovider = "s3"\nbucket = "b"\n'
    assert f"{RESTORE}.replacement_instance: restores only from disk snapshots (ebs, gce-disk)" in _problems(
        s3 + f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "i-0abc"\nreplacement_rpc = "http://x:1"\n')
    text = _problems(ebs + f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "vol-1"\n'
                           'replacement_rpc = "http://x:1"\ndns_zone_id = "Z1"\ndns_record_type = "MX"\n')
    assert f"{RESTORE}.replacement_instance: expected an EC2 instance id (i-...) or a VM" in text
    assert f"{RESTORE}.dns_record: dns_zone_id and dns_record go together" in text
    assert f"{RESTORE}.dns_record_type: expected one of CNAME, A" in text


def test_restore_keys_do_not_apply_to_other_strategies_and_a_whole_restore_parses():
    assert f"{RESTORE}.dns_zone_id: only applies to strategy = 'restore'" in _problems(
        f'[{RESTORE}]\nstrategy = "conductor"\nconductor_rpc = "http://c:1"\ndns_zone_id = "Z1"\n'
        'dns_record = "seq.internal"\n')
    ok = load(config_text(remediation=(
        '[remediation.networks.devnet.snapshot]\nprovider = "ebs"\nvolume_id = "vol-1"\n'
        f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "i-0abc"\nreplacement_rpc = "http://10.0.2.15:8545"\n'
        'dns_zone_id = "Z1"\ndns_record = "seq.l2.internal"\ndns_record_type = "A"\n')))
    fo = ok.section("remediation").for_network("devnet").failover
    assert (fo.replacement_instance, fo.replacement_device, fo.replacement_rpc.url, fo.dns_record_type) == (
        "i-0abc", None, "http://10.0.2.15:8545", "A")
    from opwatch.remedies.policy import replacement_device

    assert replacement_device(fo, ok.section("remediation").for_network("devnet").snapshot) == "/dev/sdf"


def test_a_networks_remedies_run_on_one_cloud_whose_providers_and_secrets_they_use():
    net = "remediation.networks.devnet"
    text = _problems(f'[{net}.snapshot]\nprovider = "gcs"\nbucket = "b"\n')
    assert f"{net}.snapshot.provider: 'gcs' is GCP's, but this network's remedies run on aws (runs_on)" in text
    text = _problems(GCP + topup_section("/tmp/x.db").replace('[remediation.networks.devnet]\n', '')
                     + f'[{net}.snapshot]\nprovider = "ebs"\nvolume_id = "vol-1"\n')
    assert f"{net}.snapshot.provider: 'ebs' is AWS's" in text
    gcp_secret = topup_section("/tmp/x.db").replace('secret = "env:OPWATCH_FUNDER_KEY"',
                                                   'secret = "gcp-secretmanager:projects/p/secrets/funder"')
    assert "gcp-secretmanager" in gcp_secret
    assert f"{net}.topup.secret: 'gcp-secretmanager' is GCP's" in _problems(gcp_secret)
    assert "expected 'gcp-secretmanager:projects/P/secrets/S'" in _problems(
        gcp_secret.replace("projects/p/secrets/funder", "funder"))


def test_a_persistent_disk_restores_into_a_vm_on_gcp_and_an_ebs_snapshot_into_an_ec2_instance():
    disk = (GCP + '[remediation.networks.devnet.snapshot]\nprovider = "gce-disk"\nproject = "p"\n'
            'zone = "europe-west1-b"\ndisk = "seq"\n')
    ok = load(config_text(remediation=disk + f'[{RESTORE}]\nstrategy = "restore"\n'
                          'replacement_instance = "zones/europe-west1-b/instances/seq-standby"\n'
                          'replacement_rpc = "http://10.1.0.5:8545"\ndns_zone_id = "l2-internal"\n'
                          'dns_record = "sequencer.l2.internal."\n'))
    from opwatch.remedies.policy import replacement_device

    net = ok.section("remediation").for_network("devnet")
    assert replacement_device(net.failover, net.snapshot) == "opwatch-datadir"
    text = _problems(disk + f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "i-0abc"\n'
                            'replacement_device = "/dev/sdf"\nreplacement_rpc = "http://x:1"\n')
    assert f"{RESTORE}.replacement_instance: gce-disk snapshots restore into zones/ZONE/instances/NAME" in text
    assert f"{RESTORE}.replacement_device: expected a disk deviceName for gce-disk" in text
    assert f"{RESTORE}.replacement_instance: restoring into this instance runs on aws" in text


def test_permissions_follow_the_cloud_the_remedies_run_on():
    from opwatch.remedies.permissions import for_policy

    aws = load(config_text(remediation=(
        '[remediation.networks.devnet.snapshot]\nprovider = "ebs"\nvolume_id = "vol-1"\n'
        f'[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "i-0abc"\nreplacement_rpc = "http://x:1"\n'
        'dns_zone_id = "Z1"\ndns_record = "seq.internal"\n'))).section("remediation")
    perms = for_policy(aws)
    assert {"ec2:CreateSnapshot", "ec2:StartInstances", "route53:ChangeResourceRecordSets"} <= set(perms.aws_actions)
    assert perms.gcp_roles == ()
    gcp = load(config_text(remediation=(
        GCP + '[remediation.networks.devnet.snapshot]\nprovider = "gce-disk"\nproject = "p"\nzone = "europe-west1-b"\n'
        f'disk = "seq"\n[{RESTORE}]\nstrategy = "restore"\nreplacement_instance = "zones/europe-west1-b/instances/vm"\n'
        'replacement_rpc = "http://x:1"\ndns_zone_id = "z"\ndns_record = "seq.internal."\n'))).section("remediation")
    perms = for_policy(gcp)
    assert perms.aws_actions == ()
    assert {"custom:opwatchRestore", "custom:opwatchDnsSwitch", "custom:opwatchDiskSnapshots"} <= set(perms.gcp_roles)


def test_a_bare_request_never_acts_and_an_approval_or_a_dry_run_needs_no_finding():
    for remedy in ("topup", "snapshot", "failover", "restore"):
        why = refuses_finding(RemedyRequest(remedy, "devnet", "bare-1", target="batcher"))
        assert why is not None and "bare request never acts" in why
        assert refuses_finding(RemedyRequest(remedy, "devnet", "ok-1", target="batcher", approved_by="alice")) is None
        assert refuses_finding(RemedyRequest(remedy, "devnet", "dry-1", target="batcher", dry_run=True)) is None


@pytest.mark.parametrize(("remedy", "check", "target", "fits"), [
    ("topup", "wallet_runway", "batcher", True),
    ("topup", "wallet_runway", "proposer", False),  # a finding about another wallet
    ("topup", "sequencer_liveness", "batcher", False),  # another check's finding pays nothing
    ("snapshot", "wallet_runway", "batcher", False),
    ("failover", "snapshot_freshness", "batcher", False),
    ("failover", "sequencer_liveness", "batcher", True),
    ("restore", "sequencer_liveness", "batcher", True),
])
def test_a_finding_acts_only_for_its_own_remedy_network_and_target(remedy, check, target, fits):
    found = Finding.from_dict(finding(Status.FIRING, check=check).to_dict() | {"target": target})
    for approved in (None, "alice"):  # an attached finding must fit, approved or not
        request = RemedyRequest(remedy, "devnet", "r-1", target="batcher", approved_by=approved, finding=found)
        assert (refuses_finding(request) is None) is fits
    elsewhere = Finding.from_dict(found.to_dict() | {"network": "mainnet"})
    assert refuses_finding(RemedyRequest(remedy, "devnet", "r-2", target="batcher", finding=elsewhere)) is not None


def test_the_caller_is_never_read_from_the_payload():
    request = RemedyRequest("topup", "devnet", "r-1", target="batcher", approved_by="alice", caller="gcp:a@example.com")
    assert "caller" not in request.to_dict()
    with pytest.raises(BadRequest, match="unknown fields: caller"):
        RemedyRequest.from_dict(request.to_dict() | {"caller": "gcp:someone-else@example.com"})


def test_a_local_run_audits_the_os_account_as_its_caller(tmp_path, capsys):
    import argparse
    import getpass
    import json

    from opwatch.cli import remedies as remedies_cli

    path = tmp_path / "opwatch.toml"
    path.write_text(config_text(remediation=f'[remediation]\nstore = "sqlite:{tmp_path / "r.db"}"\n'))

    def cli(*argv: str) -> int:
        parser = argparse.ArgumentParser(prog="opwatch")
        remedies_cli.add_parser(parser.add_subparsers(dest="command", required=True))
        return remedies_cli.run(parser.parse_args(list(argv)))

    # No snapshot policy: refused, but who asked is on record either way.
    assert cli("remediate", "snapshot", "--config", str(path), "--network", "devnet", "--request-id", "who-1",
               "--approved-by", "alice") == 1
    capsys.readouterr()
    assert cli("audit", "--config", str(path), "--request-id", "who-1", "--json") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and {(r["approved_by"], r["caller"]) for r in records} == {("alice", f"local:{getpass.getuser()}")}
    assert cli("audit", "--config", str(path), "--request-id", "who-1") == 0
    assert f"[alice by local:{getpass.getuser()}]" in capsys.readouterr().out


def test_audit_of_a_store_this_runtime_does_not_ship_is_a_usage_error_not_a_traceback(tmp_path, capsys):  # type: ignore[no-untyped-def]
    import argparse

    from opwatch.cli import remedies as remedies_cli

    path = tmp_path / "opwatch.toml"
    path.write_text(config_text())
    parser = argparse.ArgumentParser(prog="opwatch")
    remedies_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    assert remedies_cli.run(parser.parse_args(["audit", "--config", str(path), "--store", "redis:x"])) == 2
    assert "'redis' is not available" in capsys.readouterr().err
