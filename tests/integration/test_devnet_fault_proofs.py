"""The fault-proof devnet: real DisputeGameFactory and FaultDisputeGame contracts on anvil, a game
proposer posting true roots, an honest challenger, and the faults bad-output, bad-game and
stop-challenger. Roots are recomputed with opwatch's own `compute_output_root`, the function the
devnet's proposers use and the checks judge with.

One fault-proof devnet for the module, with 15 s clocks so a game lives and dies within a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opwatch.chain.output_root import compute_output_root
from opwatch.chain.rpc import RpcClient as CoreRpcClient
from opwatch.config import Endpoint
from opwatch_devnet import contracts, proofs
from opwatch_devnet.actors import MESSAGE_PASSER
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.keys import CHALLENGER, GRIEFER, PROPOSER
from opwatch_devnet.topology import L1_CHAIN_ID, Devnet

pytestmark = pytest.mark.anvil

CLOCK_S = 15
SLACK_S = 30.0  # L1 blocks, actor steps and a busy 2-core machine: not the behaviour under test


@pytest.fixture(scope="module")
def fault_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with Devnet.start(tmp_path_factory.mktemp("fault-devnet"), proofs_mode="fault", max_clock_duration=CLOCK_S,
                      submission_interval=5) as net:
        yield net


def true_root(devnet: Devnet, block: int) -> str:
    return compute_output_root(CoreRpcClient(Endpoint(url=devnet.l2_url, name="l2")), block).root


def game(devnet: Devnet, address: str, fn: str, *args: Any) -> Any:
    return proofs.game_read(RpcClient(devnet.l1_url), address, fn, *args)


def claim_of(devnet: Devnet, address: str) -> str:
    return "0x" + bytes(game(devnet, address, "rootClaim")).hex()


def test_fault_proof_devnet_runs_the_real_contracts(fault_devnet: Devnet) -> None:
    l1 = RpcClient(fault_devnet.l1_url)
    deployment = fault_devnet.deployment
    assert isinstance(deployment, proofs.FaultProofDeployment)
    factory = deployment.dispute_game_factory
    impl = contracts.call(l1, "DisputeGameFactory", factory, "gameImpls", [deployment.game_type])[0]
    assert impl.lower() == deployment.fault_dispute_game_impl.lower()
    assert int(proofs.game_read(l1, impl, "maxClockDuration")) == CLOCK_S
    assert int(contracts.call(l1, "DisputeGameFactory", factory, "initBonds", [deployment.game_type])[0]) > 0
    root, block = contracts.call(l1, "AnchorStateRegistry", deployment.anchor_state_registry, "anchors",
                                 [deployment.game_type])
    assert "0x" + bytes(root).hex() == true_root(fault_devnet, int(block))
    text = fault_devnet.config_text()
    assert f'dispute_game_factory = "{factory}"' in text and "game_type = 255" in text
    assert "l2_output_oracle" not in text


def test_withdrawals_move_the_message_passer_storage_root(fault_devnet: Devnet) -> None:
    l2 = CoreRpcClient(Endpoint(url=fault_devnet.l2_url, name="l2"))
    assert RpcClient(fault_devnet.l2_url).call("eth_getCode", MESSAGE_PASSER, "latest") != "0x"
    first = compute_output_root(l2, RpcClient(fault_devnet.l2_url).block_number())
    sent = fault_devnet.withdrawer.sent
    assert fault_devnet.wait_for(lambda: fault_devnet.withdrawer.sent >= sent + 2, timeout=SLACK_S)
    later = compute_output_root(l2, RpcClient(fault_devnet.l2_url).block_number())
    assert later.message_passer_storage_root != first.message_passer_storage_root


def test_proposer_creates_games_with_true_roots(fault_devnet: Devnet) -> None:
    assert fault_devnet.wait_for(lambda: len(fault_devnet.proposer.proposed) >= 2, timeout=SLACK_S)
    for block, address in fault_devnet.proposer.proposed[:2]:
        assert int(game(fault_devnet, address, "l2BlockNumber")) == block
        assert game(fault_devnet, address, "gameCreator").lower() == PROPOSER.address.lower()
        assert claim_of(fault_devnet, address) == true_root(fault_devnet, block)


def test_wrong_roots_are_countered_in_time_and_lose(fault_devnet: Devnet) -> None:
    fault_devnet.fault("bad-output")  # the proposer's next game claims a wrong root
    fault_devnet.fault("bad-game")  # another account's game claims a wrong root
    bad_game = fault_devnet.faults.active["bad-game"]["game"]
    assert game(fault_devnet, bad_game, "gameCreator").lower() == GRIEFER.address.lower()
    assert fault_devnet.wait_for(lambda: fault_devnet.proposer.bad, timeout=SLACK_S)
    [(block, bad_proposal)] = fault_devnet.proposer.bad
    assert claim_of(fault_devnet, bad_proposal) != true_root(fault_devnet, block)
    for address in (bad_game, bad_proposal):
        created = int(game(fault_devnet, address, "createdAt"))
        assert fault_devnet.wait_for(lambda a=address: int(game(fault_devnet, a, "claimDataLen")) > 1,
                                     timeout=SLACK_S)
        counter = contracts.call(RpcClient(fault_devnet.l1_url), "FaultDisputeGame", address, "claimData", [1])
        assert counter[2].lower() == CHALLENGER.address.lower()  # claimant
        attacked_at = counter[6] & (2**64 - 1)  # a Clock packs (duration << 64) | timestamp
        assert attacked_at - created < CLOCK_S  # countered within the root claim's clock
    # heal: the proposer's game after the bad one is true again
    assert fault_devnet.wait_for(lambda: fault_devnet.proposer.proposed[-1][0] > block, timeout=SLACK_S)
    after_block, after = fault_devnet.proposer.proposed[-1]
    assert claim_of(fault_devnet, after) == true_root(fault_devnet, after_block)
    for address in (bad_game, bad_proposal):
        assert fault_devnet.wait_for(lambda a=address: proofs.status(RpcClient(fault_devnet.l1_url), a)
                                     != proofs.IN_PROGRESS, timeout=CLOCK_S + SLACK_S)
        assert proofs.status(RpcClient(fault_devnet.l1_url), address) == proofs.CHALLENGER_WINS
    fault_devnet.heal()


def test_without_the_challenger_a_wrong_root_wins_after_its_clock(fault_devnet: Devnet) -> None:
    fault_devnet.fault("stop-challenger")
    fault_devnet.fault("bad-game")
    bad_game = fault_devnet.faults.active["bad-game"]["game"]
    root_clock_out = contracts.encode_call("FaultDisputeGame", "resolveClaim", [0, 0])
    anyone = contracts.Sender(RpcClient(fault_devnet.l1_url), GRIEFER, L1_CHAIN_ID)
    assert fault_devnet.wait_for(lambda: contracts.would_succeed(anyone, bad_game, root_clock_out),
                                 timeout=CLOCK_S + SLACK_S)
    assert int(game(fault_devnet, bad_game, "claimDataLen")) == 1  # nobody countered it
    fault_devnet.heal("stop-challenger")  # too late to counter: the challenger can only resolve it
    assert fault_devnet.wait_for(lambda: proofs.status(RpcClient(fault_devnet.l1_url), bad_game)
                                 != proofs.IN_PROGRESS, timeout=SLACK_S)
    assert proofs.status(RpcClient(fault_devnet.l1_url), bad_game) == proofs.DEFENDER_WINS
    assert int(game(fault_devnet, bad_game, "claimDataLen")) == 1
    fault_devnet.heal()


def test_fault_proof_faults_refuse_on_an_oracle_devnet(devnet: Devnet) -> None:
    from opwatch_devnet.faults import UnknownFault

    for name in ("bad-game", "stop-challenger"):
        with pytest.raises(UnknownFault, match="fault-proof devnet"):
            devnet.fault(name)
        assert name not in devnet.faults.active


def test_bad_output_posts_one_wrong_output_root_on_the_oracle_chain(devnet: Devnet) -> None:
    l1 = RpcClient(devnet.l1_url)
    oracle = devnet.deployment.l2_output_oracle  # type: ignore[union-attr]
    devnet.fault("bad-output")
    try:
        assert devnet.wait_for(lambda: devnet.proposer.bad, timeout=SLACK_S)
        [(block, _tx)] = devnet.proposer.bad
        index = int(contracts.call(l1, "L2OutputOracle", oracle, "getL2OutputIndexAfter", [block])[0])
        root, _timestamp, l2_block = contracts.call(l1, "L2OutputOracle", oracle, "getL2Output", [index])[0]
        assert l2_block == block
        assert "0x" + bytes(root).hex() != true_root(devnet, block)
        # heal: the next output is true again
        assert devnet.wait_for(lambda: _latest_index(l1, oracle) > index, timeout=SLACK_S)
        root, _timestamp, l2_block = contracts.call(l1, "L2OutputOracle", oracle, "getL2Output", [index + 1])[0]
        assert "0x" + bytes(root).hex() == true_root(devnet, l2_block)
    finally:
        devnet.heal("bad-output")


def _latest_index(l1: RpcClient, oracle: str) -> int:
    try:
        return int(contracts.call(l1, "L2OutputOracle", oracle, "latestOutputIndex")[0])
    except RpcError:
        return -1


def test_devnet_cli_up_refuses_an_unknown_proof_mode() -> None:
    from opwatch_devnet import cli

    with pytest.raises(SystemExit) as exited:
        cli.run(["up", "--proofs", "nonsense"])
    assert exited.value.code == 2
