"""The failover lease outlasts the worst-case restore: a lease that expires midway lets a second
trigger start another replacement beside the first. Validated when the config loads."""

from __future__ import annotations

import pytest
from opwatch.config import ConfigError
from opwatch.remedies.policy import restore_worst_case_s
from remedies_fixtures import config_text, load

RESTORE = """
[remediation.networks.devnet.snapshot]
provider = "ebs"
volume_id = "vol-0abc"
[remediation.networks.devnet.failover]
strategy = "restore"
replacement_instance = "i-0abc"
replacement_rpc = "http://10.0.2.15:8545"
dns_zone_id = "Z0123"
dns_record = "sequencer.l2.internal"
"""


def test_a_lease_shorter_than_the_worst_case_restore_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"lease_ttl.*shorter than the worst-case restore"):
        load(config_text(remediation="[remediation]" + RESTORE + 'lease_ttl = "10m"\n'))


def test_an_unset_lease_is_derived_from_the_restore_budgets() -> None:
    config = load(config_text(remediation="[remediation]" + RESTORE))
    policy = config.section("remediation").for_network("devnet")
    assert policy.failover is not None and policy.snapshot is not None
    worst = restore_worst_case_s(policy.failover, policy.snapshot, config.rpc.timeout, 1)
    # launch and its clean-up (2 x 300 s), replacement_wait (300 s) and the DNS wait (120 s) at least
    assert worst >= 2 * 300 + 300 + 120
    assert policy.failover.lease_ttl_s > worst


def test_a_long_enough_lease_is_kept() -> None:
    config = load(config_text(remediation="[remediation]" + RESTORE + 'lease_ttl = "30m"\n'))
    assert config.section("remediation").for_network("devnet").failover.lease_ttl_s == 1800.0
