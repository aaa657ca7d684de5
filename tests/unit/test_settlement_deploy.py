"""output_root and dispute_games are deployed like every other check: the GCP plan gives each a
function where the network has the settlement config (an L2OutputOracle, or a
DisputeGameFactory with its proposer), and on AWS the trusted_l2_rpc URLs, like every other
endpoint's, come from the rpc_endpoints secret by name (the bundled config holds placeholders)."""

from __future__ import annotations

from pathlib import Path

from opwatch.aws.secrets import with_endpoint_urls
from opwatch.checks import CHECKS, Context
from opwatch.checks.base import why_skipped
from opwatch.config import parse_config
from opwatch.deploy.gcp_plan import functions

ROOT = Path(__file__).resolve().parents[2]

FAULT_PROOF_NETWORK = """
[networks.fpnet]
l1_rpc = [{ url = "https://l1-fp.example", name = "l1-fp" }]
l2_rpc = { url = "https://sequencer-fp.example", name = "sequencer-fp" }
trusted_l2_rpc = [{ url = "https://placeholder.example", name = "verifier-a" },
                  { url = "https://placeholder.example", name = "verifier-b" }]
l1_chain_id = 1
l2_chain_id = 8453
block_time = "2s"
proposer = "0x642229f238fb9dE03374Be34B0eD8D9De80752c5"
dispute_game_factory = "0x43edB88C4B80fDD2AdFF2412A7BebF9dF42cB40e"
game_type = 0
"""


def with_fault_proof_network(example: Path) -> str:
    """The example config with one more network, a fault-proof chain, before its first table
    that is not a network."""
    text = example.read_text()
    head, sep, tail = text.partition("\n[schedules]")
    return head + "\n" + FAULT_PROOF_NETWORK + sep + tail


def test_the_gcp_plan_deploys_both_settlement_checks_for_a_fault_proof_network() -> None:
    # One function per check, serving every network it applies to (the runner skips the rest).
    example = parse_config((ROOT / "gcp" / "example.toml").read_text())
    plain = {fn.entry_point for fn in functions(example, example.section("gcp").with_overrides())}
    assert "output_root" in plain and "dispute_games" not in plain  # L2OutputOracle chains only
    config = parse_config(with_fault_proof_network(ROOT / "gcp" / "example.toml"))
    planned = {fn.entry_point: fn for fn in functions(config, config.section("gcp").with_overrides())}
    assert {"output_root", "dispute_games"} <= set(planned)
    assert planned["dispute_games"].name.endswith("dispute-games")
    on_gcp = Context(config.network("fpnet"), config=config, cloud="gcp")
    assert why_skipped(CHECKS["output_root"], on_gcp) is None
    assert why_skipped(CHECKS["dispute_games"], on_gcp) is None


def test_a_fault_proof_network_without_its_proposer_skips_output_root_saying_why() -> None:
    config = parse_config(FAULT_PROOF_NETWORK.replace('proposer = "0x642229f238fb9dE03374Be34B0eD8D9De80752c5"\n', ""))
    on_gcp = Context(config.network("fpnet"), config=config, cloud="gcp")
    assert "proposer" in str(why_skipped(CHECKS["output_root"], on_gcp))
    assert why_skipped(CHECKS["dispute_games"], on_gcp) is None  # anyone's games: no proposer needed


def test_trusted_l2_rpc_urls_come_from_the_aws_secret_by_name() -> None:
    config = parse_config(FAULT_PROOF_NETWORK)
    swapped = with_endpoint_urls(config, '{"verifier-a": "https://a.example/KEY-A", '
                                         '"verifier-b": "https://b.example/KEY-B"}')
    trusted = swapped.network("fpnet").trusted_l2_rpc
    assert [(e.name, e.url) for e in trusted] == [("verifier-a", "https://a.example/KEY-A"),
                                                 ("verifier-b", "https://b.example/KEY-B")]
    assert swapped.network("fpnet").trusted_nodes() == trusted
    # Left out, trusted_l2_rpc is l2_rpc: the secret's sequencer URL reaches it too.
    default = parse_config(FAULT_PROOF_NETWORK.replace(
        'trusted_l2_rpc = [{ url = "https://placeholder.example", name = "verifier-a" },\n'
        '                  { url = "https://placeholder.example", name = "verifier-b" }]\n', ""))
    swapped = with_endpoint_urls(default, '{"sequencer-fp": "https://seq.example/KEY-S"}')
    assert [e.url for e in swapped.network("fpnet").trusted_nodes()] == ["https://seq.example/KEY-S"]
