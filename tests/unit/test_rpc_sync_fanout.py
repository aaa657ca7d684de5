"""rpc_sync over many nodes: one round trip per node, all in flight at once, no threads per run.

Over a hundred nodes the run once took 2.7 × a single node's: a node that moved past the
sequencer's head needed a second round trip for its block at the sequencer's height, and every
run started a thread per node (each start waits for the interpreter lock behind the others).
Now the block at the sequencer's height rides in the node's batch, and the threads that measure
targets side by side belong to the container (`Resources`), started once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from opwatch.chain.rpc import TransportError
from opwatch.checks.base import Resources
from opwatch.config import parse_config
from opwatch.findings import Status
from opwatch.runner import run_checks

SEQUENCER = "http://sequencer:8545"


def block_hash(n: int, fork: bool = False) -> str:
    return "0x" + f"{(n + 10**9 if fork else n):064x}"


class NodesTransport:
    """Transport seam standing in for L2 execution nodes (eth_chainId, eth_getBlockByNumber):
    each URL serves blocks 0..heads[url], their hashes a function of the height, except the
    heights in forks[url]; unknown heights answer null, as geth does. With `in_flight`, a node's
    read waits (up to 10 s) until that many node reads are in flight together, and fails
    otherwise: it proves the reads run side by side without timing anything."""

    def __init__(self, heads: dict[str, int], forks: dict[str, set[int]] | None = None,
                 in_flight: int = 0) -> None:
        self.heads, self.forks = heads, forks or {}
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(in_flight, timeout=10) if in_flight else None

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        with self._lock:
            self.requests[url] += 1
        if self._barrier is not None and url != SEQUENCER:
            try:
                self._barrier.wait()
            except threading.BrokenBarrierError:
                raise TransportError("the node reads did not run side by side") from None
        calls = json.loads(body)
        calls = calls if isinstance(calls, list) else [calls]
        out = [{"jsonrpc": "2.0", "id": c["id"], "result": self._answer(url, c)} for c in calls]
        return json.dumps(out if len(out) > 1 else out[0]).encode()

    def _answer(self, url: str, call: dict[str, object]) -> object:
        if call["method"] == "eth_chainId":
            return hex(901)
        tag = call["params"][0]  # type: ignore[index]
        n = self.heads[url] if tag == "latest" else int(str(tag), 16)
        if n > self.heads[url]:
            return None
        fork = n in self.forks.get(url, set())
        return {"number": hex(n), "hash": block_hash(n, fork), "parentHash": block_hash(n - 1),
                "timestamp": hex(1_700_000_000 + n), "transactions": []}


def config_for(nodes: list[str]):  # type: ignore[no-untyped-def]
    listed = ", ".join(f'"{u}"' for u in nodes)
    return parse_config(f"""
[networks.devnet]
l1_rpc = "http://l1:8545"
l2_rpc = "{SEQUENCER}"
l1_chain_id = 900
l2_chain_id = 901
block_time = "1s"
rpc_nodes = [{listed}]
""")


def run(transport: NodesTransport, nodes: list[str], resources: Resources | None = None) -> dict[str, Status]:
    result = run_checks(config_for(nodes), check_ids=["rpc_sync"], transport=transport, resources=resources)
    return {f.target: f.status for f in result.findings}


def test_each_node_costs_one_round_trip_whether_behind_level_or_ahead() -> None:
    behind, level, ahead = "http://behind:8545", "http://level:8545", "http://ahead:8545"
    transport = NodesTransport({SEQUENCER: 100, behind: 98, level: 100, ahead: 102})
    assert run(transport, [behind, level, ahead]) == {behind: Status.OK, level: Status.OK, ahead: Status.OK}
    assert transport.requests[behind] == transport.requests[level] == transport.requests[ahead] == 1
    # The sequencer: its head, then its block at the lagging node's height.
    assert transport.requests[SEQUENCER] == 2


def test_nodes_lagging_at_one_height_share_one_read_of_the_sequencer() -> None:
    nodes = [f"http://node-{i}:8545" for i in range(12)]
    transport = NodesTransport({SEQUENCER: 100, **{u: 97 for u in nodes}})
    assert set(run(transport, nodes).values()) == {Status.OK}
    assert transport.requests[SEQUENCER] == 2
    assert all(transport.requests[u] == 1 for u in nodes)


def test_a_node_ahead_of_the_sequencer_on_another_fork_fires() -> None:
    node = "http://forked:8545"
    transport = NodesTransport({SEQUENCER: 100, node: 102}, forks={node: {100, 101, 102}})
    result = run_checks(config_for([node]), check_ids=["rpc_sync"], transport=transport)
    (finding,) = result.findings
    assert finding.status == Status.FIRING
    assert "another fork" in finding.summary and finding.details["compared_at"] == 100
    assert transport.requests[node] == 1


def test_a_node_answering_null_for_a_height_below_its_head_is_read_again_not_guessed() -> None:
    """A node past the sequencer's head that has no block at the sequencer's height (a reorg
    between the two reads of its batch, or a broken node): its block is read on its own."""

    class Gap(NodesTransport):
        def _answer(self, url: str, call: dict[str, object]) -> object:
            if url != SEQUENCER and call["method"] == "eth_getBlockByNumber" and \
                    call["params"][0] == hex(100) and self.requests[url] == 1:  # type: ignore[index]
                return None
            return super()._answer(url, call)

    node = "http://gap:8545"
    transport = Gap({SEQUENCER: 100, node: 101})
    assert run(transport, [node]) == {node: Status.OK}
    assert transport.requests[node] == 2


def test_every_node_is_read_at_once_and_a_warm_container_starts_no_thread_for_it() -> None:
    nodes = [f"http://node-{i}:8545" for i in range(40)]
    resources = Resources()
    first = NodesTransport({SEQUENCER: 100, **{u: 100 for u in nodes}}, in_flight=len(nodes))
    assert run(first, nodes, resources) == {u: Status.OK for u in nodes}
    workers = {t.ident for t in threading.enumerate() if t.name.startswith("opwatch-targets")}
    assert len(workers) >= len(nodes)
    again = NodesTransport({SEQUENCER: 100, **{u: 100 for u in nodes}}, in_flight=len(nodes))
    assert run(again, nodes, resources) == {u: Status.OK for u in nodes}
    assert {t.ident for t in threading.enumerate() if t.name.startswith("opwatch-targets")} == workers
