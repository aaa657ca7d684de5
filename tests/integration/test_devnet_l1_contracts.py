"""The devnet's L1 contracts of issue #17 on real anvil, in both proof modes: the real
OptimismPortal (oracle) / OptimismPortal2 (fault proofs), SystemConfig and SuperchainConfig behind
proxies; honest withdrawals proven on L1 with real proofs; the faults forged-withdrawal, pause,
rotate-batcher and upgrade-proxy doing on chain what they say, and their heals undoing it.

One devnet per mode (module scope, one at a time: the machine has two cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opwatch.config import load_config
from opwatch_devnet import contracts, portal, proofs
from opwatch_devnet.actors import MESSAGE_PASSER
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.keys import BATCHER, DEPLOYER, GRIEFER
from opwatch_devnet.topology import Devnet

pytestmark = pytest.mark.anvil

SLACK_S = 60.0  # L1 blocks, proposals every 5 L2 blocks and a busy 2-core machine: not the behaviour
WITHDRAWAL_PROVEN = "0x67a6208cfcc0801d50f6cbe764733f4fddf66ac0b04442061a8a8c0cb6b63f62"
UPGRADED = "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b"
CONFIG_UPDATE = "0x1d2b0bda21d56b8bd12d4f94ebacffdfb35f5e226f84b461103bb8beab6353be"


@pytest.fixture(scope="module", params=["oracle", "fault"])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with Devnet.start(tmp_path_factory.mktemp(f"l1-{request.param}"), proofs_mode=request.param,
                      submission_interval=5, max_clock_duration=30, rpc_nodes=1) as devnet:
        yield devnet


def l1(net: Devnet) -> RpcClient:
    return RpcClient(net.l1_url)


def portal_call(net: Devnet, fn: str, *args: Any) -> Any:
    system = net.l1_system
    return contracts.call(l1(net), system.implementation_name("optimism_portal"), system.optimism_portal, fn,
                          list(args))


def receipt(net: Devnet, tx_hash: str) -> dict[str, Any]:
    return dict(l1(net).call("eth_getTransactionReceipt", tx_hash))


def logs_with(net: Devnet, tx_hash: str, topic: str, address: str) -> list[dict[str, Any]]:
    return [log for log in receipt(net, tx_hash)["logs"]
            if log["topics"][0] == topic and log["address"].lower() == address.lower()]


def sent_on_l2(net: Devnet, withdrawal_hash: str) -> bool:
    return bool(contracts.call(RpcClient(net.l2_url), "L2ToL1MessagePasser", MESSAGE_PASSER, "sentMessages",
                               [bytes.fromhex(withdrawal_hash[2:])])[0])


def proven_at(net: Devnet, withdrawal_hash: str, submitter: str) -> int:
    """provenWithdrawals' timestamp (0: never proven)."""
    key = bytes.fromhex(withdrawal_hash[2:])
    if net.l1_system.portal_is_fault_proof:
        _game, timestamp = portal_call(net, "provenWithdrawals", key, submitter)
    else:
        _root, timestamp, _index = portal_call(net, "provenWithdrawals", key)
    return int(timestamp)


def test_the_portal_system_is_deployed_and_initialised_consistently(net: Devnet) -> None:
    system, client = net.l1_system, l1(net)
    assert portal_call(net, "systemConfig")[0].lower() == system.system_config.lower()
    assert portal_call(net, "superchainConfig")[0].lower() == system.superchain_config.lower()
    assert portal_call(net, "paused")[0] is False
    assert portal_call(net, "guardian")[0].lower() == DEPLOYER.address.lower()
    assert portal.batcher_of(client, system) == BATCHER.address
    sc = system.system_config
    assert contracts.call(client, "SystemConfig", sc, "optimismPortal")[0].lower() == system.optimism_portal.lower()
    assert portal.implementation_of(client, system.optimism_portal) == system.optimism_portal_impl
    deployment = net.deployment
    if isinstance(deployment, proofs.FaultProofDeployment):
        assert system.superchain_config == contracts._checksum(deployment.superchain_config)  # shared
        assert portal_call(net, "disputeGameFactory")[0].lower() == deployment.dispute_game_factory.lower()
        assert int(portal_call(net, "respectedGameType")[0]) == deployment.game_type
        assert contracts.call(client, "SystemConfig", sc, "disputeGameFactory")[0].lower() == \
            deployment.dispute_game_factory.lower()
    else:
        assert portal_call(net, "l2Oracle")[0].lower() == deployment.l2_output_oracle.lower()
    network = load_config(net.config_path).networks["devnet"]
    assert network.optimism_portal == system.optimism_portal
    assert network.system_config == system.system_config
    assert network.superchain_config == system.superchain_config


def test_honest_withdrawals_are_proven_on_l1_with_real_proofs(net: Devnet) -> None:
    assert net.wait_for(lambda: len(net.prover.proven) >= 2, timeout=SLACK_S), net.prover.last_error
    for proof in net.prover.proven[:2]:
        assert sent_on_l2(net, proof.withdrawal_hash)
        events = logs_with(net, proof.tx_hash, WITHDRAWAL_PROVEN, net.l1_system.optimism_portal)
        assert [e["topics"][1] for e in events] == [proof.withdrawal_hash]
        assert proven_at(net, proof.withdrawal_hash, proof.submitter) > 0
        assert proof.proposal_block >= proof.l2_block


def test_forged_withdrawal_is_proven_against_a_wrong_root_and_the_heal_disarms_it(net: Devnet) -> None:
    net.fault("forged-withdrawal")
    forged = net.faults.active["forged-withdrawal"]
    assert not sent_on_l2(net, forged["withdrawal_hash"])  # never initiated on L2 ...
    events = logs_with(net, forged["prove_tx"], WITHDRAWAL_PROVEN, net.l1_system.optimism_portal)
    assert [e["topics"][1] for e in events] == [forged["withdrawal_hash"]]  # ... yet proven on L1
    assert proven_at(net, forged["withdrawal_hash"], GRIEFER.address) > 0
    client = l1(net)
    deployment = net.deployment
    if isinstance(deployment, proofs.FaultProofDeployment):
        game = forged["game"]
        assert proofs.status(client, game) == proofs.IN_PROGRESS
        assert "0x" + bytes(proofs.game_read(client, game, "rootClaim")).hex() == forged["output_root"]
        net.heal("forged-withdrawal")
        assert portal_call(net, "disputeGameBlacklist", game)[0] is True
    else:
        oracle, index = deployment.l2_output_oracle, forged["proposal_index"]
        posted = contracts.call(client, "L2OutputOracle", oracle, "getL2Output", [index])[0]
        assert "0x" + bytes(posted[0]).hex() == forged["output_root"]
        net.heal("forged-withdrawal")
        latest = int(contracts.call(client, "L2OutputOracle", oracle, "latestOutputIndex")[0])
        if latest >= index:  # the proposer proposed that block again: honestly
            again = contracts.call(client, "L2OutputOracle", oracle, "getL2Output", [index])[0]
            assert "0x" + bytes(again[0]).hex() != forged["output_root"]
    # Honest proofs go on after the attack.
    count = len(net.prover.proven)
    assert net.wait_for(lambda: len(net.prover.proven) > count, timeout=SLACK_S), net.prover.refused


def test_pause_halts_proofs_and_heal_resumes_them(net: Devnet) -> None:
    net.fault("pause")
    try:
        assert portal_call(net, "paused")[0] is True
        assert net.wait_for(lambda: net.prover.refused, timeout=SLACK_S)  # the portal refuses proofs
        count = len(net.prover.proven)
    finally:
        net.heal("pause")
    assert portal_call(net, "paused")[0] is False
    assert net.wait_for(lambda: len(net.prover.proven) > count, timeout=SLACK_S), net.prover.refused


def test_rotate_batcher_changes_system_config_and_heal_restores_it(net: Devnet) -> None:
    def config_updates() -> int:
        query = {"address": net.l1_system.system_config, "topics": [CONFIG_UPDATE], "fromBlock": "0x0"}
        return len(l1(net).call("eth_getLogs", query))

    before = config_updates()
    net.fault("rotate-batcher")
    assert portal.batcher_of(l1(net), net.l1_system) == GRIEFER.address
    assert config_updates() == before + 1  # SystemConfig says so itself (updateType 0: batcher)
    net.heal("rotate-batcher")
    assert portal.batcher_of(l1(net), net.l1_system) == BATCHER.address


def test_upgrade_proxy_points_a_watched_proxy_elsewhere_and_heal_upgrades_back(net: Devnet) -> None:
    system, client = net.l1_system, l1(net)
    planned = portal.deploy_implementation(contracts.Sender(client, DEPLOYER, 900), system, "optimism_portal")
    net.fault("upgrade-proxy", target="optimism_portal", implementation=planned)
    recorded = net.faults.active["upgrade-proxy"]
    assert portal.implementation_of(client, system.optimism_portal) == planned
    events = logs_with(net, recorded["tx"], UPGRADED, system.optimism_portal)
    assert [e["topics"][1][-40:] for e in events] == [planned[2:].lower()]
    assert portal_call(net, "paused")[0] is False  # the proxy's state survives the new code
    net.heal("upgrade-proxy")
    assert portal.implementation_of(client, system.optimism_portal) == system.optimism_portal_impl
    net.fault("upgrade-proxy")  # default: a fresh copy of SystemConfig's code
    fresh = net.faults.active["upgrade-proxy"]["implementation"]
    assert fresh != system.system_config_impl
    assert portal.implementation_of(client, system.system_config) == fresh
    assert portal.batcher_of(client, system) == BATCHER.address
    net.heal("upgrade-proxy")
    assert portal.implementation_of(client, system.system_config) == system.system_config_impl
