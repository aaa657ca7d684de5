"""proposer_freshness on both proposal paths, against real contracts deployed on the devnet's L1:
the L2OutputOracle (legacy) and the DisputeGameFactory (fault proofs)."""

from __future__ import annotations

import pytest
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Status
from opwatch.runner import run_checks

pytestmark = pytest.mark.anvil


def config_for(devnet, contract_line: str, max_age: str = "60s") -> Config:  # type: ignore[no-untyped-def]
    base = devnet.config_text().split("[networks.devnet.thresholds]")[0]
    lines = [line for line in base.splitlines() if not line.startswith("l2_output_oracle")]
    return parse_config("\n".join(lines) + f"\n{contract_line}\n[networks.devnet.thresholds]\n"
                        f'proposer_max_output_age = "{max_age}"\n')


def freshness(config: Config) -> Finding:
    (finding,) = run_checks(config, check_ids=["proposer_freshness"]).findings
    return finding


@pytest.fixture(scope="module")
def deployer(devnet):  # type: ignore[no-untyped-def]
    from opwatch_devnet import contracts
    from opwatch_devnet.jsonrpc import RpcClient
    from opwatch_devnet.keys import DEPLOYER
    from opwatch_devnet.topology import L1_CHAIN_ID

    return contracts.Sender(RpcClient(devnet.l1_url), DEPLOYER, L1_CHAIN_ID)


def l1_time(devnet) -> int:  # type: ignore[no-untyped-def]
    from opwatch_devnet.jsonrpc import RpcClient

    return int(RpcClient(devnet.l1_url).block("latest")["timestamp"], 16)


def test_an_oracle_without_outputs_ages_from_its_starting_time(devnet, deployer) -> None:  # type: ignore[no-untyped-def]
    from opwatch_devnet import contracts
    from opwatch_devnet.keys import PROPOSER

    def fresh_oracle(started_ago: int) -> str:
        params = contracts.OracleParams(submission_interval=10, l2_block_time=1, starting_block_number=0,
                                        starting_timestamp=l1_time(devnet) - started_ago,
                                        proposer=PROPOSER.address, challenger=deployer.role.address)
        return contracts.deploy_l2_output_oracle(deployer, params).l2_output_oracle

    young = freshness(config_for(devnet, f'l2_output_oracle = "{fresh_oracle(5)}"'))
    assert young.status == Status.OK and young.details["output_index"] is None
    old = freshness(config_for(devnet, f'l2_output_oracle = "{fresh_oracle(600)}"'))
    assert old.status == Status.FIRING
    assert old.observed.value is not None and old.observed.value >= 600


def test_an_address_without_a_contract_is_unknown(devnet) -> None:  # type: ignore[no-untyped-def]
    finding = freshness(config_for(devnet, 'l2_output_oracle = "0x000000000000000000000000000000000000dEaD"'))
    assert finding.status == Status.UNKNOWN and "no contract code" in finding.summary


def test_dispute_games_count_only_of_the_configured_type(devnet, deployer) -> None:  # type: ignore[no-untyped-def]
    from opwatch_devnet import contracts

    factory = contracts.deploy_dispute_game_factory(deployer)
    line = f'dispute_game_factory = "{factory}"\ngame_type = 0'
    empty = freshness(config_for(devnet, line))
    assert empty.status == Status.FIRING and "no dispute game of type 0" in empty.summary

    for game_type in (0, 1):
        contracts.register_game_type(deployer, factory, game_type, "0x00000000000000000000000000000000000000aa")
    contracts.create_game(deployer, factory, 0, b"\x01" * 32, (1).to_bytes(32, "big"))
    # Newer games of another type (anyone may create them) must not flatter the proposer.
    nonce = deployer.nonce()
    sent = [deployer.send(factory, contracts.encode_call("DisputeGameFactory", "create", [
        1, i.to_bytes(32, "big"), (i + 2).to_bytes(32, "big")]), gas=1_000_000, nonce=nonce + i) for i in range(20)]
    deployer.wait(sent[-1])
    found = freshness(config_for(devnet, line))
    assert found.status == Status.OK
    assert found.details["game_index"] == 0 and found.details["game_type"] == 0
    assert found.details["game_count"] == 21

    strict = freshness(config_for(devnet, line, max_age="1s"))
    any_type = freshness(config_for(devnet, f'dispute_game_factory = "{factory}"', max_age="1h"))
    assert any_type.details["game_index"] == 20 and any_type.details["game_type"] == 1
    assert strict.status == Status.FIRING  # the type-0 game is older than 1 s by now
