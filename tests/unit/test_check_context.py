"""What a check needs from outside reaches it through its `Context`, from the runtime's
composition root: no module-level state, nothing shared between two configs in one process.

snapshot_freshness once kept a process-global catalog of snapshot providers that whoever ran
checks had to `configure` first: a run without a snapshot policy then measured the last
configured one, and every run rebuilt the providers (their clients) from scratch.
"""

from __future__ import annotations

from opwatch.backends import core_registry
from opwatch.checks.base import Resources
from opwatch.config import parse_config
from opwatch.findings import Status
from opwatch.remedies.snapshot import SnapshotRecord
from opwatch.runner import run_checks

NOW = 1_700_000_000.0
NETWORK = """
[networks.devnet]
l1_rpc = "http://127.0.0.1:1"
l2_rpc = "http://127.0.0.1:2"
l1_chain_id = 900
l2_chain_id = 901
block_time = "1s"
"""
WITH_POLICY = NETWORK + """
[remediation.networks.devnet]
runs_on = "aws"
[remediation.networks.devnet.snapshot]
provider = "s3"
bucket = "snapshots"
max_age = "1h"
"""
# The same network's snapshots kept on GCP (a persistent disk's).
ON_GCP = NETWORK + """
[remediation.networks.devnet]
runs_on = "gcp"
[remediation.networks.devnet.snapshot]
provider = "gce-disk"
bucket = "snapshots"
project = "p"
zone = "europe-west1-b"
disk = "sequencer"
max_age = "1h"
"""


class MemorySnapshots:
    """A SnapshotProvider holding one verified snapshot `age_s` old."""

    def __init__(self, age_s: float) -> None:
        self.age_s = age_s

    def newest_good(self, network: str) -> SnapshotRecord:
        return SnapshotRecord(id="snap-1", network=network, block=42, taken_at=NOW - self.age_s, verified=True)


def registry_with(provider: MemorySnapshots, built: list[object]):  # type: ignore[no-untyped-def]
    registry = core_registry()

    def factory(policy: object, _seams: object) -> MemorySnapshots:
        built.append(policy)
        return provider

    registry.register("snapshot", "s3", factory)
    return registry


def test_snapshot_freshness_reads_the_provider_its_runtime_registry_builds_from_the_config():
    built: list[object] = []
    config = parse_config(WITH_POLICY)
    fresh = run_checks(config, check_ids=["snapshot_freshness"], clock=lambda: NOW,
                       registry=registry_with(MemorySnapshots(600), built), cloud="aws")
    stale = run_checks(config, check_ids=["snapshot_freshness"], clock=lambda: NOW,
                       registry=registry_with(MemorySnapshots(7200), built), cloud="aws")
    assert [f.status for f in fresh.findings] == [Status.OK]
    assert [(f.status, f.observed.value, f.threshold.value) for f in stale.findings] == [(Status.FIRING, 7200, 3600)]


def test_a_run_without_a_snapshot_policy_does_not_measure_one_configured_earlier_in_the_process():
    built: list[object] = []
    run_checks(parse_config(WITH_POLICY), check_ids=["snapshot_freshness"], clock=lambda: NOW,
               registry=registry_with(MemorySnapshots(7200), built), cloud="aws")
    later = run_checks(parse_config(NETWORK), check_ids=["snapshot_freshness"], clock=lambda: NOW)
    assert later.findings == []
    assert [(n, c) for n, c, _ in later.skipped] == [("devnet", "snapshot_freshness")]


def test_a_deployed_function_reads_only_the_snapshots_kept_in_its_own_cloud():
    built: list[object] = []
    config = parse_config(ON_GCP)
    on_aws = run_checks(config, check_ids=["snapshot_freshness"], clock=lambda: NOW,
                        registry=registry_with(MemorySnapshots(600), built), cloud="aws")
    assert on_aws.findings == [] and "aws" in on_aws.skipped[0][2]
    assert built == []


def test_providers_are_built_once_per_container_not_once_per_run():
    built: list[object] = []
    config = parse_config(WITH_POLICY)
    registry, container = registry_with(MemorySnapshots(600), built), Resources()
    for _ in range(3):
        result = run_checks(config, check_ids=["snapshot_freshness"], clock=lambda: NOW, registry=registry,
                            cloud="aws", resources=container)
        assert [f.status for f in result.findings] == [Status.OK]
    assert len(built) == 1


def test_a_provider_the_runtime_does_not_ship_is_unknown_with_the_reason():
    config = parse_config(WITH_POLICY)
    [finding] = run_checks(config, check_ids=["snapshot_freshness"], clock=lambda: NOW, cloud="aws").findings
    assert finding.status is Status.UNKNOWN and "not available in this runtime" in finding.summary
