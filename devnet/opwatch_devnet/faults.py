"""The devnet's fault catalogue: each fault is one call, reversible, and idempotent.

| name               | args                      | what it does                                         |
|--------------------|---------------------------|------------------------------------------------------|
| halt-sequencer     |                           | L2 stops producing blocks (interval mining 0)        |
| stop-batcher       |                           | the batcher actor posts nothing                      |
| drain-batcher      |                           | batcher balance ~0 and an L1 base-fee spike          |
| stop-proposer      |                           | the proposer actor posts nothing                     |
| lag-rpc            | n=10, node=0              | one RPC node serves head - n                         |
| kill-l1            |                           | every L1 proxy refuses connections                   |
| l1-endpoint-down   | index=0                   | one L1 proxy refuses connections                     |
| flaky-rpc          | p=0.5, delay=10.0         | on every proxy, share p fail (503/error/late)        |
| garbage-rpc        | target="l2"               | target proxies answer malformed JSON-RPC             |
| wrong-chain        | target="l2", chain_id     | target proxies answer another eth_chainId            |
| kill-sequencer     |                           | the sequencer process dies (heal restarts it empty)  |
| bad-output         |                           | the proposer's next output (oracle chain) or game    |
|                    |                           | (fault-proof chain) claims a wrong root; heal on an  |
|                    |                           | oracle chain: the oracle's CHALLENGER deletes it and |
|                    |                           | the proposer proposes again (the operator's step);   |
|                    |                           | on a fault-proof chain the challenger counters it    |
| bad-game           | challenger=True           | another account (anvil's account 5) creates a game   |
|                    |                           | with a wrong root (fault-proof chains); heal: none   |
|                    |                           | needed, the challenger counters it. challenger=False |
|                    |                           | also stops the challenger until the heal             |
| stop-challenger    |                           | the honest challenger neither counters nor resolves  |
| halt-finality      |                           | op-node sees L1 finality stall: its L1 finalized (and|
|                    |                           | so finalized_l2) stops where it is                   |
| rewind-finalized   | n=10                      | op-node serves finalized_l2 n blocks lower (a node   |
|                    |                           | restarted on a rolled-back database)                 |
| forged-withdrawal, pause, rotate-batcher, upgrade-proxy: the L1 contracts' faults (l1_faults.py)  |
| stuck-batcher-tx, halt-derivation, conductor-split, conductor-pause, replica-no-peers,            |
| replica-diverge: what an on-call engineer checks next (ops_faults.py)                              |

Targets name proxies: an exact name (`l1-0`, `l2`, `rollup`, `rpc-1`), a group (`l1`, `rpc`), or `all`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opwatch_devnet import contracts
from opwatch_devnet.actors import Proposer, install_message_passer
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.keys import BATCHER, DEPLOYER, GRIEFER
from opwatch_devnet.l1_faults import L1_FAULT_NAMES, L1ContractFaults
from opwatch_devnet.ops_faults import OPS_FAULT_NAMES, OpsFaults
from opwatch_devnet.proxy import FaultProxy, ProxyMode

if TYPE_CHECKING:
    from opwatch_devnet.topology import Devnet

HEALTHY_BALANCE_WEI = 10_000 * 10**18
DRAINED_BALANCE_WEI = 1_000  # enough for nothing: one batch costs ~21k gas x base fee
SPIKED_BASE_FEE_WEI = 500 * 10**9

FAULT_NAMES = (
    "halt-sequencer", "stop-batcher", "drain-batcher", "stop-proposer", "lag-rpc", "kill-l1",
    "l1-endpoint-down", "flaky-rpc", "garbage-rpc", "wrong-chain", "kill-sequencer", "bad-output", "bad-game",
    "stop-challenger", "halt-finality", "rewind-finalized", *L1_FAULT_NAMES, *OPS_FAULT_NAMES,
)


class UnknownFault(ValueError):
    pass


class FaultController(L1ContractFaults, OpsFaults):
    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.active: dict[str, dict[str, Any]] = {}

    def active_json(self) -> dict[str, dict[str, Any]]:
        return {name: dict(args) for name, args in self.active.items()}

    def targets(self, target: str) -> list[FaultProxy]:
        proxies = self.devnet.proxies
        if target == "all":
            return list(proxies.values())
        if target in proxies:
            return [proxies[target]]
        group = [p for name, p in proxies.items() if name.startswith(f"{target}-")]
        if not group:
            raise UnknownFault(f"no proxy or group named {target!r}; have {sorted(proxies)}")
        return group

    def inject(self, name: str, *args: Any, **kwargs: Any) -> None:
        method = getattr(self, "_inject_" + name.replace("-", "_"), None)
        if method is None:
            raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        if name in self.active:
            self.heal(name)  # re-injecting with other arguments replaces the old one
        recorded = method(*args, **kwargs)
        self.active[name] = recorded
        self.devnet.write_state()

    def heal(self, name: str) -> None:
        if name not in FAULT_NAMES:
            raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        args = self.active.pop(name, None)
        if args is None:
            return  # idempotent: healing a healthy devnet changes nothing
        getattr(self, "_heal_" + name.replace("-", "_"))(**args)
        self.devnet.write_state()

    def heal_all(self) -> None:
        for name in list(self.active):
            self.heal(name)

    # -- sequencer ------------------------------------------------------------------------------

    def _inject_halt_sequencer(self) -> dict[str, Any]:
        if self.devnet.sequencer_control.active:
            self.devnet.sequencer_control.halt()
        return {}

    def _heal_halt_sequencer(self) -> None:
        self.devnet.sequencer_control.resume()

    def _inject_kill_sequencer(self) -> dict[str, Any]:
        self.devnet.sequencer.stop()
        return {}

    def _heal_kill_sequencer(self) -> None:
        # A fresh chain on the same port: a real restart without its datadir would look the same.
        self.devnet.sequencer.launch()
        self.devnet.sequencer_control.active = True
        install_message_passer(RpcClient(self.devnet.sequencer.url))

    # -- actors ---------------------------------------------------------------------------------

    def _inject_stop_batcher(self) -> dict[str, Any]:
        self.devnet.batcher.pause()
        return {}

    def _heal_stop_batcher(self) -> None:
        self.devnet.batcher.resume()

    def _inject_stop_proposer(self) -> dict[str, Any]:
        self.devnet.proposer.pause()
        return {}

    def _heal_stop_proposer(self) -> None:
        self.devnet.proposer.resume()

    # -- proposals (output roots and dispute games) ------------------------------------------------

    def _inject_bad_output(self) -> dict[str, Any]:
        self.devnet.proposer.corrupt_next = True
        return {}

    def _heal_bad_output(self) -> None:
        # If the wrong proposal was not posted yet, it never is. On an oracle chain a posted one
        # can prove withdrawals until it is deleted, so the heal is the operator's step: the
        # oracle's CHALLENGER (the deployer on the devnet) deletes it and the proposer proposes
        # that block again. On a fault-proof chain the wrong game stays on L1: the challenger
        # counters it and it resolves CHALLENGER_WINS.
        from opwatch_devnet.topology import L1_CHAIN_ID

        proposer = self.devnet.proposer
        proposer.corrupt_next = False
        if isinstance(proposer, Proposer):
            proposer.delete_wrong_outputs(contracts.Sender(RpcClient(self.devnet.l1_url), DEPLOYER, L1_CHAIN_ID))

    def _inject_bad_game(self, challenger: bool = True) -> dict[str, Any]:
        from opwatch_devnet.dispute import create_bad_game
        from opwatch_devnet.proofs import FaultProofDeployment
        from opwatch_devnet.topology import L1_CHAIN_ID

        deployment = self.devnet.deployment
        if not isinstance(deployment, FaultProofDeployment):
            raise UnknownFault("bad-game needs a fault-proof devnet (opwatch devnet up --proofs fault)")
        if not challenger and self.devnet.challenger is not None:
            self.devnet.challenger.pause()
        sender = contracts.Sender(RpcClient(self.devnet.l1_url), GRIEFER, L1_CHAIN_ID)
        block, game = create_bad_game(sender, RpcClient(self.devnet.l2_url), deployment.dispute_game_factory,
                                      deployment.game_type)
        return {"game": game, "l2_block": block, "challenger": bool(challenger)}

    def _heal_bad_game(self, game: str, l2_block: int, challenger: bool) -> None:
        # The game stays on L1; the honest challenger counters it (if its clock has time left).
        if not challenger and self.devnet.challenger is not None and "stop-challenger" not in self.active:
            self.devnet.challenger.resume()

    def _inject_stop_challenger(self) -> dict[str, Any]:
        if self.devnet.challenger is None:
            raise UnknownFault("stop-challenger needs a fault-proof devnet (opwatch devnet up --proofs fault)")
        self.devnet.challenger.pause()
        return {}

    def _heal_stop_challenger(self) -> None:
        if self.devnet.challenger is not None:
            self.devnet.challenger.resume()

    # -- finality (the op-node stand-in's view of it) ---------------------------------------------

    def _inject_halt_finality(self) -> dict[str, Any]:
        finalized = self.devnet.batcher.l1.client.block("finalized")
        self.devnet.scanner.l1_finality_halted_at = int(finalized["number"], 16) if finalized else 0
        return {}

    def _heal_halt_finality(self) -> None:
        self.devnet.scanner.l1_finality_halted_at = None

    def _inject_rewind_finalized(self, n: int = 10) -> dict[str, Any]:
        self.devnet.scanner.finalized_rewind = int(n)
        return {}

    def _heal_rewind_finalized(self) -> None:
        self.devnet.scanner.finalized_rewind = 0

    def _inject_drain_batcher(self) -> dict[str, Any]:
        l1 = self.devnet.batcher.l1.client
        l1.call("anvil_setBalance", BATCHER.address, hex(DRAINED_BALANCE_WEI))
        l1.call("anvil_setNextBlockBaseFeePerGas", hex(SPIKED_BASE_FEE_WEI))
        return {}

    def _heal_drain_batcher(self) -> None:
        self.devnet.batcher.l1.client.call("anvil_setBalance", BATCHER.address, hex(HEALTHY_BALANCE_WEI))

    def _inject_lag_rpc(self, n: int = 10, node: int = 0) -> dict[str, Any]:
        self.devnet.followers[int(node)].lag = int(n)
        return {"node": int(node)}

    def _heal_lag_rpc(self, node: int) -> None:
        self.devnet.followers[node].lag = 0

    # -- network (proxies) ----------------------------------------------------------------------

    def _set(self, proxies: list[FaultProxy], mode: ProxyMode) -> list[str]:
        for proxy in proxies:
            proxy.set_mode(mode)
        return [p.name for p in proxies]

    def _reset(self, names: list[str]) -> None:
        for name in names:
            self.devnet.proxies[name].heal()

    def _inject_kill_l1(self) -> dict[str, Any]:
        return {"names": self._set(self.targets("l1"), ProxyMode("down"))}

    def _heal_kill_l1(self, names: list[str]) -> None:
        self._reset(names)

    def _inject_l1_endpoint_down(self, index: int = 0) -> dict[str, Any]:
        return {"names": self._set(self.targets(f"l1-{int(index)}"), ProxyMode("down"))}

    def _heal_l1_endpoint_down(self, names: list[str]) -> None:
        self._reset(names)

    def _inject_flaky_rpc(self, p: float = 0.5, delay: float = 10.0) -> dict[str, Any]:
        return {"names": self._set(self.targets("all"), ProxyMode("flaky", p=float(p), delay=float(delay)))}

    def _heal_flaky_rpc(self, names: list[str]) -> None:
        self._reset(names)

    def _inject_garbage_rpc(self, target: str = "l2") -> dict[str, Any]:
        return {"names": self._set(self.targets(target), ProxyMode("garbage"))}

    def _heal_garbage_rpc(self, names: list[str]) -> None:
        self._reset(names)

    def _inject_wrong_chain(self, target: str = "l2", chain_id: int = 0xDEAD) -> dict[str, Any]:
        return {"names": self._set(self.targets(target), ProxyMode("wrong_chain", chain_id=int(chain_id)))}

    def _heal_wrong_chain(self, names: list[str]) -> None:
        self._reset(names)


def fault_help() -> str:
    """Every fault with its arguments (from the inject methods' signatures) and what it does (from
    the catalogue above): `opwatch devnet fault --help`."""
    import inspect
    import textwrap

    from opwatch_devnet import l1_faults, ops_faults

    described: dict[str, str] = {}
    row = ""
    for line in f"{__doc__}\n{l1_faults.__doc__}\n{ops_faults.__doc__}".splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            row = ""
        elif cells[0] in FAULT_NAMES:
            row = cells[0]
            described.setdefault(row, cells[2])
        elif not cells[0] and row:  # a continuation line of the row above
            described[row] += " " + cells[2]
    lines = []
    for name in FAULT_NAMES:
        method = getattr(FaultController, "_inject_" + name.replace("-", "_"))
        params = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
        args = " ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                        for p in params)
        lines.append(f"  {name}" + (f"  {args}" if args else ""))
        doc = described.get(name) or (inspect.getdoc(method) or "").split("\n")[0]
        lines += textwrap.wrap(doc, 92, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)
