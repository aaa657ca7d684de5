"""tx_health's `l1` target against a real L1 reorg: anvil's own `anvil_reorg` replaces the last
blocks with different ones (a transfer is placed in the first replaced block, so no replacement
can hash like the block it replaces). A reorg deeper than 3 blocks since the previous run warns,
one of 2 blocks does not, and a first run (nothing remembered) never tells. Own anvil, seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch.memory import SqliteMemoryStore
from opwatch.runner import run_checks
from opwatch_devnet.anvil import AnvilProcess
from opwatch_devnet.jsonrpc import RpcClient

pytestmark = pytest.mark.anvil

# anvil's well-known test accounts 0 and 1 (public devnet addresses).
SENDER, RECIPIENT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970C51812dc3A010C7d8A6aC0D9e5aa6c4c"


@pytest.fixture(scope="module")
def l1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    # Automine off, no interval: blocks come only when the test mines them.
    node = AnvilProcess.start("reorg-l1", tmp_path_factory.mktemp("reorg"),
                              ["--chain-id", "900", "--hardfork", "prague", "--no-mining"])
    yield node
    node.stop()


def _config(l1: AnvilProcess) -> Config:
    return parse_config(f"""
[networks.reorg]
l1_rpc = "{l1.url}"
l2_rpc = "{l1.url}"
l1_chain_id = 900
l2_chain_id = 901
block_time = "2s"
""")


def _l1_finding(config: Config, memory: SqliteMemoryStore) -> Finding:
    (finding,) = run_checks(config, check_ids=["tx_health"], memory=memory).findings
    assert finding.target == "l1"
    return finding


def _reorg(client: RpcClient, depth: int) -> None:
    transfer = {"from": SENDER, "to": RECIPIENT, "value": hex(depth), "gas": hex(21_000)}
    client.call("anvil_reorg", depth, [[transfer, 0]])


def test_a_reorg_deeper_than_3_blocks_warns_and_a_shallow_one_does_not(l1: AnvilProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = RpcClient(l1.url)
    client.call("anvil_mine", hex(20))
    config, memory = _config(l1), SqliteMemoryStore(tmp_path / "m.db")

    first = _l1_finding(config, memory)
    assert first.status == Status.OK and first.details["reorg_depth"] is None
    before = client.block("latest")
    _reorg(client, 5)
    after = client.block("latest")
    assert after is not None and before is not None and after["hash"] != before["hash"]
    # A first run that only now looks sees nothing to compare: never fires on memory.
    assert _l1_finding(config, SqliteMemoryStore(tmp_path / "fresh.db")).status == Status.OK
    deep = _l1_finding(config, memory)
    assert deep.status == Status.FIRING, deep.summary
    assert deep.severity == Severity.WARNING
    assert deep.details["reorg_depth"] == 5
    assert "no longer canonical" in deep.summary

    client.call("anvil_mine", hex(3))
    assert _l1_finding(config, memory).status == Status.OK  # nothing replaced since
    _reorg(client, 2)
    shallow = _l1_finding(config, memory)
    assert shallow.status == Status.OK, shallow.summary
    assert shallow.details["reorg_depth"] == 2
