"""withdrawals and l1_contracts on real anvil with the real contracts-bedrock 0.17.3 contracts.

L1: SuperchainConfig, DisputeGameFactory with the real FaultDisputeGame (devnet/proofs.py),
SystemConfig and OptimismPortal2, each behind a bedrock Proxy whose admin is the deployer
(anvil's well-known test key 0). L2: an anvil carrying the real L2ToL1MessagePasser predeploy.

Honest withdrawals are sent on L2 (`initiateWithdrawal`) and proven on L1 with the real
`proveWithdrawalTransaction`, against a game whose root is the L2 block's true output root and
a storage proof from `eth_getProof`. The forged one is the real attack: a game whose root
commits to a made-up message-passer storage root holding a withdrawal never sent on L2, and
its proof. The deployment's own events are two days older than the checks' lookback (the
checks' clock is L1's head time), so only what a test does is in the window.

Tests run in file order: each builds on the chain the previous ones left.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from getlogs_limit_standin import GetLogsLimit
from opwatch.checks import CHECKS, Context, evaluate
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status

pytestmark = pytest.mark.anvil

L1_CHAIN_ID, L2_CHAIN_ID = 900, 901
MESSAGE_PASSER = "0x4200000000000000000000000000000000000016"
BATCH_INBOX = "0xFF00000000000000000000000000000000000901"


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(data))


@dataclass
class Chain:
    l1: str
    l2: str
    deployer: Any  # devnet Sender, anvil test key 0
    prover: Any  # an honest user proving on L1 (test key 2)
    attacker: Any  # the forger (test key 5)
    withdrawer: Any  # an L2 user (test key 3)
    factory: str
    game_type: int
    superchain: str
    system_config: str
    system_config_impl: str
    portal: str
    batcher: str
    proposer: str
    forged_games: list[str]


def _withdrawal_hash(w: tuple[Any, ...]) -> bytes:
    from eth_abi import encode

    return _keccak(encode(["uint256", "address", "address", "uint256", "uint256", "bytes"], list(w)))


def _slot(withdrawal_hash: bytes) -> bytes:
    return _keccak(withdrawal_hash + bytes(32))  # sentMessages is the message passer's slot 0


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    from opwatch_devnet import contracts, proofs
    from opwatch_devnet.anvil import AnvilProcess
    from opwatch_devnet.contracts import Sender, _checksum, encode_call
    from opwatch_devnet.jsonrpc import RpcClient
    from opwatch_devnet.keys import BATCHER, DEPLOYER, GRIEFER, PROPOSER, WITHDRAWER

    work = tmp_path_factory.mktemp("l1c")
    with AnvilProcess.start("l1", work, ["--chain-id", str(L1_CHAIN_ID)]) as l1, \
            AnvilProcess.start("l2", work, ["--chain-id", str(L2_CHAIN_ID), "--optimism"]) as l2:
        l1c, l2c = RpcClient(l1.url), RpcClient(l2.url)
        l2c.call("anvil_setCode", MESSAGE_PASSER, contracts.artifact_runtime("L2ToL1MessagePasser"))
        l2c.call("evm_mine")
        deployer = Sender(l1c, DEPLOYER, L1_CHAIN_ID)
        fp = proofs.deploy_fault_proofs(deployer, proofs.ProofParams(L2_CHAIN_ID, b"\x11" * 32, 0))
        system_config = contracts.deploy_system_config(deployer, BATCHER.address, BATCH_INBOX)
        impl = "0x" + l1c.call("eth_getStorageAt", system_config,
                               "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc",
                               "latest")[-40:]
        init = encode_call("OptimismPortal2", "initialize", [fp.dispute_game_factory, system_config,
                                                             fp.superchain_config, fp.game_type])
        portal, _ = contracts.deploy_behind_proxy(deployer, "OptimismPortal2", init, args=[7 * 86400, 3600])
        # The deployment ages out of every lookback: the checks' clock is L1's head time.
        l1c.call("evm_increaseTime", 2 * 86400)
        l1c.call("evm_mine")
        yield Chain(l1.url, l2.url, deployer, Sender(l1c, PROPOSER, L1_CHAIN_ID), Sender(l1c, GRIEFER, L1_CHAIN_ID),
                    Sender(l2c, WITHDRAWER, L2_CHAIN_ID), fp.dispute_game_factory, fp.game_type,
                    fp.superchain_config, system_config, _checksum(impl), portal, BATCHER.address,
                    PROPOSER.address, [])


def config(c: Chain, *, l1: str | None = None, trusted: str | None = None, extra: str = "",
           rpc: str = "") -> Config:
    return parse_config(f"""
[networks.devnet]
l1_rpc = ["{l1 or c.l1}"]
l2_rpc = "{c.l2}"
trusted_l2_rpc = ["{trusted or c.l2}"]
l1_chain_id = {L1_CHAIN_ID}
l2_chain_id = {L2_CHAIN_ID}
block_time = "1s"
batcher = "{c.batcher}"
dispute_game_factory = "{c.factory}"
proposer = "{c.proposer}"
optimism_portal = "{c.portal}"
superchain_config = "{c.superchain}"
system_config = "{c.system_config}"
{extra}
[rpc]
timeout = "20s"
{rpc}
""")


def run(c: Chain, check: str, cfg: Config | None = None) -> list[Finding]:
    cfg = cfg or config(c)
    from opwatch_devnet.jsonrpc import RpcClient

    head_time = float(int(RpcClient(c.l1).block("latest")["timestamp"], 16))  # type: ignore[index]
    return evaluate(CHECKS[check], Context(cfg.network("devnet"), cfg.rpc, clock=lambda: head_time))


def target(findings: list[Finding], name: str) -> Finding:
    (found,) = [f for f in findings if f.target == name]
    return found


def _create_game(c: Chain, root: bytes, l2_block: int) -> tuple[int, str]:
    from opwatch_devnet import contracts, proofs

    game = proofs.create_game(c.attacker, c.factory, c.game_type, root, l2_block)
    count = int(contracts.call(c.deployer.client, "DisputeGameFactory", c.factory, "gameCount")[0])
    return count - 1, game


def _prove(c: Chain, sender: Any, w: tuple[Any, ...], index: int, orp: tuple[bytes, ...], proof: list[bytes]) -> str:
    from opwatch_devnet.contracts import encode_call

    data = encode_call("OptimismPortal2", "proveWithdrawalTransaction", [w, index, orp, proof])
    return str(sender.wait(sender.send(c.portal, data, gas=1_500_000))["transactionHash"])


def honest_withdrawal(c: Chain, serial: int) -> tuple[str, str]:
    """initiateWithdrawal on L2, then its real proof on L1 against a game with the true root."""
    from eth_abi import decode
    from opwatch_devnet.contracts import _checksum, encode_call

    target_addr = "0x" + f"{serial:040x}"
    data = encode_call("L2ToL1MessagePasser", "initiateWithdrawal", [_checksum(target_addr), 100_000, b"hi"])
    receipt = c.withdrawer.wait(c.withdrawer.send(MESSAGE_PASSER, data, gas=200_000))
    (log,) = [x for x in receipt["logs"] if x["address"].lower() == MESSAGE_PASSER]
    value, gas_limit, payload, whash = decode(["uint256", "uint256", "bytes", "bytes32"],
                                              bytes.fromhex(log["data"][2:]))
    w = (int(log["topics"][1], 16), _checksum("0x" + log["topics"][2][-40:]),
         _checksum("0x" + log["topics"][3][-40:]), int(value), int(gas_limit), bytes(payload))
    assert _withdrawal_hash(w) == bytes(whash)
    block_no = int(receipt["blockNumber"], 16)
    l2 = c.withdrawer.client
    block = l2.block(block_no)
    answer = l2.call("eth_getProof", MESSAGE_PASSER, ["0x" + _slot(bytes(whash)).hex()], hex(block_no))
    orp = (bytes(32), bytes.fromhex(block["stateRoot"][2:]), bytes.fromhex(answer["storageHash"][2:]),
           bytes.fromhex(block["hash"][2:]))
    index, _game = _create_game(c, _keccak(b"".join(orp)), block_no)
    proof = [bytes.fromhex(n[2:]) for n in answer["storageProof"][0]["proof"]]
    return "0x" + bytes(whash).hex(), _prove(c, c.prover, w, index, orp, proof)


def forged_withdrawal(c: Chain, serial: int) -> tuple[str, str, str]:
    """A withdrawal never sent on L2, proven against a game whose root commits to a storage trie
    holding only its slot (one leaf: rlp([0x20 ‖ keccak(slot), rlp(1)]))."""
    import rlp
    from opwatch_devnet.contracts import _checksum

    attacker = _checksum(c.attacker.role.address)
    w = ((1 << 240) | serial, attacker, attacker, 1000 * 10**18, 100_000, b"")
    whash = _withdrawal_hash(w)
    leaf = rlp.encode([b"\x20" + _keccak(_slot(whash)), rlp.encode(1)])
    l2 = c.withdrawer.client
    block_no = int(l2.call("eth_blockNumber"), 16)
    block = l2.block(block_no)
    orp = (bytes(32), bytes.fromhex(block["stateRoot"][2:]), _keccak(leaf), bytes.fromhex(block["hash"][2:]))
    index, game = _create_game(c, _keccak(b"".join(orp)), block_no)
    c.forged_games.append(game)
    return "0x" + whash.hex(), _prove(c, c.attacker, w, index, orp, [leaf]), game


# --- withdrawals ----------------------------------------------------------------------------------

def test_honest_withdrawals_and_proofs_never_fire(chain: Chain) -> None:
    proven = []
    for serial in range(1, 4):
        proven.append(honest_withdrawal(chain, serial))
        (finding,) = run(chain, "withdrawals")
        assert finding.status == Status.OK, finding.summary
        assert finding.details["proofs_checked"] == serial
    assert len({h for h, _tx in proven}) == 3


def test_an_unreachable_trusted_l2_node_is_unknown(chain: Chain) -> None:
    (finding,) = run(chain, "withdrawals", config(chain, trusted="http://127.0.0.1:9"))
    assert finding.status == Status.UNKNOWN, finding.summary
    assert finding.details["error"] == "NoHealthyEndpoint"


def test_a_forged_withdrawal_fires_naming_hash_submitter_and_tx(chain: Chain) -> None:
    whash, tx, _game = forged_withdrawal(chain, 1)
    (finding,) = run(chain, "withdrawals")
    assert finding.status == Status.FIRING and finding.severity == Severity.CRITICAL, finding.summary
    (row,) = finding.details["forged"]
    assert row == {"withdrawal_hash": whash, "proof_submitter": chain.attacker.role.address.lower(),
                   "l1_tx": tx, "l1_block": row["l1_block"]}
    assert whash in finding.summary and tx in finding.summary
    assert finding.details["proofs_checked"] == 4


def test_a_refused_log_range_is_split_not_skipped(chain: Chain) -> None:
    """A node refusing eth_getLogs over more than 4 blocks (the provider's result cap): the
    check still finds the forged proof, because every refused range was read in halves."""
    chain.deployer.client.call("anvil_mine", hex(16))  # a window well over 4 blocks, whatever ran before
    standin = GetLogsLimit(chain.l1, max_range=4)
    try:
        # retries = 0: the split alone (a refusal is not retried anyway: see the next test).
        (finding,) = run(chain, "withdrawals", config(chain, l1=standin.url, rpc="retries = 0"))
    finally:
        standin.close()
    assert standin.refused, "the stand-in never refused a range: the test proves nothing"
    assert finding.status == Status.FIRING, finding.summary
    assert finding.details["proofs_checked"] == 4
    served = sorted(standin.served)
    assert served[0][1] >= served[0][0]
    for (_a, b), (c, _d) in itertools.pairwise(served):
        assert c == b + 1, f"a gap between served ranges {served}"


def test_a_refused_log_range_is_split_at_once_not_retried(chain: Chain) -> None:
    """With the default retries, a -32005 "query returned more than N results" is the node's
    answer about the range, not a transient error: each refused range is asked once, then split
    (retrying it would only repeat the refusal, spending the run's time budget on backoff)."""
    chain.deployer.client.call("anvil_mine", hex(16))
    standin = GetLogsLimit(chain.l1, max_range=4)
    try:
        (finding,) = run(chain, "withdrawals", config(chain, l1=standin.url))  # default [rpc] retries
    finally:
        standin.close()
    assert standin.refused, "the stand-in never refused a range: the test proves nothing"
    assert finding.status == Status.FIRING, finding.summary
    asked_again = sorted({r for r in standin.refused if standin.refused.count(r) > 1})
    assert not asked_again, f"refused ranges asked again instead of split: {asked_again}"


def test_a_forged_proof_against_a_blacklisted_game_is_harmless(chain: Chain) -> None:
    from opwatch_devnet.contracts import _checksum, encode_call

    game = chain.forged_games[-1]
    data = encode_call("OptimismPortal2", "blacklistDisputeGame", [_checksum(game)])  # the guardian's move
    chain.deployer.wait(chain.deployer.send(chain.portal, data, gas=200_000))
    (finding,) = run(chain, "withdrawals")
    assert finding.status == Status.OK, finding.summary
    (row,) = finding.details["harmless"]
    assert game.lower() in str(row["harmless"]) and "blacklisted" in str(row["harmless"])


# --- l1_contracts ---------------------------------------------------------------------------------

def test_a_healthy_deployment_is_ok_on_every_target(chain: Chain) -> None:
    findings = run(chain, "l1_contracts")
    assert {f.target for f in findings} == {"paused", "batcher_key", "upgrades", "config"}
    for f in findings:
        assert f.status == Status.OK, (f.target, f.summary)


def test_the_deployment_itself_in_the_lookback_does_not_page(chain: Chain) -> None:
    """Proxies installed from nothing, owners set by initialize() and the SystemConfig values
    initialize() writes are the deployment the config names, not a change behind its back."""
    whole_life = '[networks.devnet.l1_contracts]\nlookback = "5d"\n'
    findings = run(chain, "l1_contracts", config(chain, extra=whole_life))
    upgrades, updates = target(findings, "upgrades"), target(findings, "config")
    assert upgrades.status == Status.OK and updates.status == Status.OK, (upgrades.summary, updates.summary)
    firsts = {(e["proxy"], e["event"]) for e in upgrades.details["deployment"]}
    assert (chain.system_config.lower(), "Upgraded") in firsts and (chain.portal.lower(), "Upgraded") in firsts
    assert (chain.system_config.lower(), "OwnershipTransferred") in firsts
    assert updates.details["set_by_initialize"] >= 3 and updates.details["updates"] == []


def test_a_guardian_pause_fires_and_unpause_heals(chain: Chain) -> None:
    from opwatch_devnet.contracts import encode_call

    sender = chain.deployer
    sender.wait(sender.send(chain.superchain, encode_call("SuperchainConfig", "pause", ["drill-17"]), gas=200_000))
    try:
        paused = target(run(chain, "l1_contracts"), "paused")
        assert paused.status == Status.FIRING and paused.severity == Severity.CRITICAL, paused.summary
        assert "unpause()" in paused.summary and "drill-17" in paused.summary
        assert paused.details["pause_event"]["identifier"] == "drill-17"
        assert paused.observed.value == 2  # the portal and SuperchainConfig
    finally:
        sender.wait(sender.send(chain.superchain, encode_call("SuperchainConfig", "unpause", []), gas=200_000))
    assert target(run(chain, "l1_contracts"), "paused").status == Status.OK


def test_a_rotated_batcher_fires_and_the_config_update_warns_decoded(chain: Chain) -> None:
    from opwatch_devnet.contracts import set_batcher

    set_batcher(chain.deployer, chain.system_config, chain.proposer)
    findings = run(chain, "l1_contracts")
    key = target(findings, "batcher_key")
    assert key.status == Status.FIRING and key.severity == Severity.CRITICAL, key.summary
    assert chain.proposer.lower() in key.summary and chain.batcher.lower() in key.summary
    update = target(findings, "config")
    assert update.status == Status.FIRING and update.severity == Severity.WARNING, update.summary
    assert update.details["updates"][-1]["update"] == "BATCHER"
    assert update.details["updates"][-1]["batcher"] == chain.proposer.lower()
    set_batcher(chain.deployer, chain.system_config, chain.batcher)
    assert target(run(chain, "l1_contracts"), "batcher_key").status == Status.OK


def test_gas_limit_and_fee_scalar_updates_are_decoded(chain: Chain) -> None:
    from opwatch_devnet.contracts import encode_call

    d = chain.deployer
    d.wait(d.send(chain.system_config, encode_call("SystemConfig", "setGasLimit", [31_000_000]), gas=200_000))
    d.wait(d.send(chain.system_config, encode_call("SystemConfig", "setGasConfigEcotone", [1368, 810949]),
                  gas=200_000))
    updates = target(run(chain, "l1_contracts"), "config").details["updates"]
    assert {"update": "GAS_LIMIT", "gas_limit": 31_000_000}.items() <= updates[-2].items()
    assert {"update": "GAS_CONFIG", "basefee_scalar": 1368, "blobbasefee_scalar": 810949}.items() \
        <= updates[-1].items()


def _upgrade_system_config(c: Chain) -> str:
    from opwatch_devnet import contracts
    from opwatch_devnet.contracts import encode_call

    new_impl = contracts.deploy(c.deployer, "SystemConfig")
    c.deployer.wait(c.deployer.send(c.system_config, encode_call("Proxy", "upgradeTo", [new_impl]), gas=200_000))
    return str(new_impl)


def test_an_upgrade_to_an_allowed_implementation_does_not_page_and_another_does(chain: Chain) -> None:
    planned = _upgrade_system_config(chain)
    allowed = f'[networks.devnet.l1_contracts]\nallowed_implementations = ["{planned}"]\n'
    up = target(run(chain, "l1_contracts", config(chain, extra=allowed)), "upgrades")
    assert up.status == Status.OK, up.summary
    (row,) = up.details["planned"]
    assert row["new"] == planned.lower() and row["old"] == chain.system_config_impl.lower()
    rogue = _upgrade_system_config(chain)
    up = target(run(chain, "l1_contracts", config(chain, extra=allowed)), "upgrades")
    assert up.status == Status.FIRING and up.severity == Severity.CRITICAL, up.summary
    (row,) = up.details["unplanned"]
    assert row["event"] == "Upgraded" and row["proxy"] == chain.system_config.lower()
    assert row["old"] == planned.lower() and row["new"] == rogue.lower()
    assert row["l1_tx"] in up.summary and chain.system_config.lower() in up.summary
