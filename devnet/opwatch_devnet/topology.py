"""The devnet topology: L1, an L2 sequencer, following RPC nodes, the op-node stand-in (and a
replica op-node beside it), a three-member op-conductor cluster, the batcher, proposer and
withdrawer actors, and a fault proxy in front of every node endpoint a config names.

Two settlement modes (`proofs`): "oracle" (the default) proposes to an L2OutputOracle; "fault"
runs the fault-proof contracts (`proofs`), a game proposer and an honest challenger (`dispute`).
Stands in for a whole OP Stack deployment as a watchdog sees it from outside.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from opwatch_devnet import contracts, portal, proofs
from opwatch_devnet.actors import Batcher, Follower, Proposer, Withdrawer, install_message_passer, output_root
from opwatch_devnet.anvil import AnvilProcess
from opwatch_devnet.conductor import ConductorCluster
from opwatch_devnet.dispute import Challenger, GameProposer
from opwatch_devnet.faults import FaultController
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.keys import BATCHER, CHALLENGER, DEPLOYER, PROPOSER, WITHDRAWER, batch_inbox_for
from opwatch_devnet.mempool import PoolProxy, PoolView
from opwatch_devnet.proxy import FaultProxy
from opwatch_devnet.rollup_node import BatchScanner, RollupNode, SequencerControl
from opwatch_devnet.rpcserver import JsonRpcServer
from opwatch_devnet.withdrawals import WithdrawalProver

log = logging.getLogger("opwatch_devnet")

L1_CHAIN_ID = 900
L2_CHAIN_ID = 901
PROOF_MODES = ("oracle", "fault")
# How long `start` waits for the batcher's first batch to land (seconds of a busy machine, not of L1).
FIRST_BATCH_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Thresholds:
    """What the written config tells opwatch to tolerate (sized for 1 s blocks)."""

    sequencer_max_head_age: str = "5s"
    batcher_max_safe_lag: str = "30s"
    batcher_max_submission_age: str = "15s"
    wallet_min_runway: str = "24h"
    proposer_max_output_age: str = "40s"
    rpc_max_lag_blocks: int = 5
    output_root_lookback: str | None = None  # None: opwatch's default (1d)
    withdrawals_lookback: str | None = None  # None: opwatch's default (1d)
    tx_max_stuck: str | None = None  # None: opwatch's default (10m)
    conductor_max_paused: str | None = None  # None: opwatch's default (15m)


def _deploy_l1_system(deployer: contracts.Sender,
                      deployment: contracts.L1Deployment | proofs.FaultProofDeployment) -> portal.L1System:
    """The portal for the chain's proof mode, SystemConfig naming the devnet's batcher, and the
    SuperchainConfig (the fault-proof contracts' own when they made one)."""
    common = {"batcher": BATCHER.address, "batch_inbox": batch_inbox_for(L2_CHAIN_ID)}
    if isinstance(deployment, proofs.FaultProofDeployment):
        return portal.deploy_l1_system(deployer, dispute_game_factory=deployment.dispute_game_factory,
                                       game_type=deployment.game_type,
                                       superchain_config=deployment.superchain_config, **common)
    return portal.deploy_l1_system(deployer, l2_output_oracle=deployment.l2_output_oracle, **common)


def _if_known(key: str, line: str | None) -> list[str]:
    """`line` when opwatch's config schema has `key` (the settlement keys of issue #16 land in
    the core beside this devnet; an unknown key would make the whole config fail)."""
    from opwatch import config

    known = set(getattr(config, "_NETWORK_KEYS", ())) | set(getattr(config, "_THRESHOLD_KEYS", ()))
    return [line] if line is not None and key in known else []


@dataclass
class Devnet:
    workdir: Path
    l1_block_time: int
    l2_block_time: int
    thresholds: Thresholds
    l1: AnvilProcess
    sequencer: AnvilProcess
    rpc_nodes: list[AnvilProcess]
    deployment: contracts.L1Deployment | proofs.FaultProofDeployment
    batcher: Batcher
    proposer: Proposer | GameProposer
    followers: list[Follower]
    scanner: BatchScanner
    sequencer_control: SequencerControl
    rollup_server: JsonRpcServer
    proxies: dict[str, FaultProxy]
    config_path: Path
    withdrawer: Withdrawer
    l1_system: portal.L1System  # the portal, SystemConfig and SuperchainConfig
    prover: WithdrawalProver
    challenger: Challenger | None = None  # fault-proof chains only
    submission_interval: int = 10
    # The op-node stand-in itself (rollup_server serves it), a replica op-node over the same L2
    # (rollup_nodes), the sequencer's op-conductor cluster (conductors, sequencer_nodes), and
    # what geth's pool would hold that anvil does not (counted by the L1 proxies).
    rollup_node: RollupNode | None = None
    replica: RollupNode | None = None
    replica_server: JsonRpcServer | None = None
    conductors: ConductorCluster | None = None
    pool: PoolView = field(default_factory=PoolView)
    faults: FaultController = field(init=False)
    metrics: Any = field(default=None, init=False)  # metrics.MetricsServer: op-node/op-batcher/op-geth metrics
    _stopped: bool = field(default=False, init=False)
    _state_extra: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.faults = FaultController(self)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        workdir: Path | str,
        *,
        l2_block_time: int = 1,
        l1_block_time: int = 1,
        rpc_nodes: int = 2,
        l1_endpoints: int = 3,
        batch_interval: float = 2.0,
        use_blobs: bool = False,
        submission_interval: int = 10,
        thresholds: Thresholds | None = None,
        start_actors: bool = True,
        proofs_mode: str = "oracle",
        max_clock_duration: int = 60,
    ) -> Devnet:
        """`proofs_mode`: "oracle" (L2OutputOracle) or "fault" (dispute games whose clocks last
        `max_clock_duration` s, short so that a run shows a game's whole life)."""
        if proofs_mode not in PROOF_MODES:
            raise ValueError(f"proofs must be one of {', '.join(PROOF_MODES)}, not {proofs_mode!r}")
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        started: list[AnvilProcess] = []
        try:
            l1 = AnvilProcess.start("l1", workdir, [
                "--chain-id", str(L1_CHAIN_ID), "--block-time", str(l1_block_time), "--hardfork", "prague",
            ])
            started.append(l1)
            seq = AnvilProcess.start("l2-sequencer", workdir, [
                "--chain-id", str(L2_CHAIN_ID), "--block-time", str(l2_block_time), "--optimism",
            ])
            started.append(seq)
            seq_client = RpcClient(seq.url)
            install_message_passer(seq_client)  # before the replicas fork the sequencer
            nodes = []
            for i in range(rpc_nodes):
                node = AnvilProcess.start(f"l2-rpc-{i}", workdir, [
                    "--optimism", "--fork-url", seq.url, "--fork-block-number", str(seq_client.block_number()),
                ])
                started.append(node)
                nodes.append(node)
            l1_client = RpcClient(l1.url)
            head = seq_client.block("latest")
            assert head is not None
            deployer = contracts.Sender(l1_client, DEPLOYER, L1_CHAIN_ID)
            deployment: contracts.L1Deployment | proofs.FaultProofDeployment
            if proofs_mode == "fault":
                anchor = int(head["number"], 16)
                deployment = proofs.deploy_fault_proofs(deployer, proofs.ProofParams(
                    l2_chain_id=L2_CHAIN_ID, anchor_root=bytes.fromhex(output_root(seq_client, anchor).root[2:]),
                    anchor_block=anchor, max_clock_duration=max_clock_duration,
                    clock_extension=max(1, max_clock_duration // 6),
                ))
            else:
                deployment = contracts.deploy_l2_output_oracle(deployer, contracts.OracleParams(
                    submission_interval=submission_interval, l2_block_time=l2_block_time,
                    starting_block_number=int(head["number"], 16), starting_timestamp=int(head["timestamp"], 16),
                    proposer=PROPOSER.address, challenger=DEPLOYER.address,
                ))
            l1_system = _deploy_l1_system(deployer, deployment)
        except BaseException:
            for proc in started:
                proc.stop()
            raise
        inbox = batch_inbox_for(L2_CHAIN_ID)
        scanner = BatchScanner(l1=RpcClient(l1.url), inbox=inbox, batcher=BATCHER.address,
                               poll=min(0.5, l1_block_time / 2))
        control = SequencerControl(RpcClient(seq.url), l2_block_time)
        rollup_node = RollupNode(RpcClient(l1.url), RpcClient(seq.url), scanner, control,
                                 L1_CHAIN_ID, L2_CHAIN_ID, l2_block_time, system_config=l1_system.system_config,
                                 optimism_portal=l1_system.optimism_portal, batcher=BATCHER.address)
        rollup = rollup_node.serve()
        # A replica op-node (no sequencer switch) over the same L2 and the same L1 traversal:
        # it agrees with the sequencer's op-node until a replica-* fault says otherwise.
        replica = RollupNode(RpcClient(l1.url), RpcClient(seq.url), scanner, None, L1_CHAIN_ID, L2_CHAIN_ID,
                             l2_block_time)
        replica_server = replica.serve()
        conductors = ConductorCluster()  # six loopback HTTP servers: cheap
        pool = PoolView()
        proxies: dict[str, FaultProxy] = {}
        for i in range(l1_endpoints):
            proxies[f"l1-{i}"] = PoolProxy(f"l1-{i}", l1.url, pool).start()
        proxies["l2"] = FaultProxy("l2", seq.url).start()
        proxies["rollup"] = FaultProxy("rollup", rollup.url).start()
        for i, node in enumerate(nodes):
            proxies[f"rpc-{i}"] = FaultProxy(f"rpc-{i}", node.url).start()
        proposer_key = contracts.Sender(RpcClient(l1.url), PROPOSER, L1_CHAIN_ID)
        proposer: Proposer | GameProposer
        challenger = None
        if isinstance(deployment, proofs.FaultProofDeployment):
            proposer = GameProposer(proposer_key, RpcClient(seq.url), deployment.dispute_game_factory,
                                    deployment.game_type, int(head["number"], 16) + submission_interval,
                                    submission_interval, deployment.anchor_state_registry,
                                    interval=float(l1_block_time))
            challenger = Challenger(contracts.Sender(RpcClient(l1.url), CHALLENGER, L1_CHAIN_ID), RpcClient(seq.url),
                                    deployment.dispute_game_factory, deployment.game_type,
                                    interval=float(l1_block_time))
        else:
            proposer = Proposer(proposer_key, RpcClient(seq.url), deployment.l2_output_oracle,
                                interval=float(l1_block_time))
        if isinstance(deployment, proofs.FaultProofDeployment):
            settlement: dict[str, Any] = {"dispute_game_factory": deployment.dispute_game_factory,
                                          "game_type": deployment.game_type}
        else:
            settlement = {"l2_output_oracle": deployment.l2_output_oracle}
        prover = WithdrawalProver(contracts.Sender(RpcClient(l1.url), WITHDRAWER, L1_CHAIN_ID), RpcClient(seq.url),
                                  l1_system, interval=2.0 * l1_block_time, **settlement)
        devnet = cls(
            workdir=workdir, l1_block_time=l1_block_time, l2_block_time=l2_block_time,
            thresholds=thresholds or Thresholds(), l1=l1, sequencer=seq, rpc_nodes=nodes, deployment=deployment,
            batcher=Batcher(contracts.Sender(RpcClient(l1.url), BATCHER, L1_CHAIN_ID), RpcClient(seq.url),
                            inbox, batch_interval, use_blobs),
            proposer=proposer, challenger=challenger, submission_interval=submission_interval,
            withdrawer=Withdrawer(contracts.Sender(RpcClient(seq.url), WITHDRAWER, L2_CHAIN_ID),
                                  interval=3.0 * l2_block_time),
            l1_system=l1_system, prover=prover,
            followers=[Follower(f"follower-{i}", RpcClient(n.url), RpcClient(seq.url), seq.url,
                                poll=l2_block_time / 2) for i, n in enumerate(nodes)],
            scanner=scanner, sequencer_control=control, rollup_server=rollup, proxies=proxies,
            config_path=workdir / "opwatch.toml", rollup_node=rollup_node, replica=replica,
            replica_server=replica_server, conductors=conductors, pool=pool,
        )
        if start_actors:
            for actor in devnet.actors:
                actor.start()
            devnet.wait_for_first_batch(FIRST_BATCH_TIMEOUT_S)
        from opwatch_devnet.metrics import MetricsServer

        devnet.metrics = MetricsServer.for_devnet(devnet).start()
        devnet.write_config(devnet.config_path)
        devnet.write_state({"metrics": devnet.metrics.urls})
        return devnet

    def wait_for_first_batch(self, timeout: float) -> None:
        """Returns once a batch has landed on L1 (the scanner saw it). Until then the chain is not
        live the way a real one is: its L1 history is the deployment's, with no batch in it, so a
        check of batch submission measured now would fire on a chain that is only starting."""
        deadline = time.monotonic() + timeout
        while not self.scanner.landed:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"devnet: no batch landed on L1 within {timeout:.0f} s of starting the batcher")
            time.sleep(0.1)

    # -- handles --------------------------------------------------------------------------------

    @property
    def actors(self) -> list[Any]:
        extra = [self.challenger] if self.challenger is not None else []
        return [self.scanner, *self.followers, self.batcher, self.proposer, self.withdrawer, self.prover, *extra]

    @property
    def proofs_mode(self) -> str:
        return "fault" if isinstance(self.deployment, proofs.FaultProofDeployment) else "oracle"

    @property
    def l1_url(self) -> str:
        """The L1 anvil itself (no proxy): for tests and actors, not for configs."""
        return self.l1.url

    @property
    def l2_url(self) -> str:
        """The sequencer anvil itself (no proxy)."""
        return self.sequencer.url

    @property
    def rollup_url(self) -> str:
        """The op-node stand-in itself (no proxy)."""
        return self.rollup_server.url

    @property
    def l1_proxies(self) -> list[FaultProxy]:
        return [p for name, p in self.proxies.items() if name.startswith("l1-")]

    @property
    def rpc_proxies(self) -> list[FaultProxy]:
        return [p for name, p in self.proxies.items() if name.startswith("rpc-")]

    @property
    def batch_inbox(self) -> str:
        return batch_inbox_for(L2_CHAIN_ID)

    def fault(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.faults.inject(name, *args, **kwargs)

    def heal(self, name: str | None = None) -> None:
        """Heal one fault, or every active fault when `name` is None."""
        if name is None:
            self.faults.heal_all()
        else:
            self.faults.heal(name)

    # -- files ----------------------------------------------------------------------------------

    def config_text(self) -> str:
        from eth_utils import to_checksum_address

        def quoted(items: list[str]) -> str:
            return "[" + ", ".join(f'"{i}"' for i in items) + "]"

        t = self.thresholds
        return "\n".join([
            "# Written by opwatch_devnet: every URL goes through a fault proxy.",
            "[networks.devnet]",
            f"l1_rpc = {quoted([p.url for p in self.l1_proxies])}",
            f'l2_rpc = "{self.proxies["l2"].url}"',
            f'rollup_rpc = "{self.proxies["rollup"].url}"',
            f"rpc_nodes = {quoted([p.url for p in self.rpc_proxies])}",
            f"l1_chain_id = {L1_CHAIN_ID}",
            f"l2_chain_id = {L2_CHAIN_ID}",
            f'block_time = "{self.l2_block_time}s"',
            f'batcher = "{BATCHER.address}"',
            f'batch_inbox = "{to_checksum_address(self.batch_inbox)}"',
            f'proposer = "{PROPOSER.address}"',
            *self._settlement_lines(),
            f'optimism_portal = "{self.l1_system.optimism_portal}"',
            f'system_config = "{self.l1_system.system_config}"',
            *_if_known("superchain_config", f'superchain_config = "{self.l1_system.superchain_config}"'),
            # The judge of output roots: a replica, not the sequencer the proposer reads (rpc-0
            # is the one lag-rpc slows down).
            *_if_known("trusted_l2_rpc", f"trusted_l2_rpc = {quoted([self.rpc_proxies[-1].url])}"
                       if self.rpc_proxies else None),
            *self._ha_lines(),
            "",
            "[networks.devnet.thresholds]",
            f'sequencer_max_head_age = "{t.sequencer_max_head_age}"',
            f'batcher_max_safe_lag = "{t.batcher_max_safe_lag}"',
            f'batcher_max_submission_age = "{t.batcher_max_submission_age}"',
            f'wallet_min_runway = "{t.wallet_min_runway}"',
            f'proposer_max_output_age = "{t.proposer_max_output_age}"',
            f"rpc_max_lag_blocks = {t.rpc_max_lag_blocks}",
            *_if_known("output_root_lookback", f'output_root_lookback = "{t.output_root_lookback}"'
                       if t.output_root_lookback else None),
            *_if_known("withdrawals_lookback", f'withdrawals_lookback = "{t.withdrawals_lookback}"'
                       if t.withdrawals_lookback else None),
            *([f'tx_max_stuck = "{t.tx_max_stuck}"'] if t.tx_max_stuck else []),
            *([f'conductor_max_paused = "{t.conductor_max_paused}"'] if t.conductor_max_paused else []),
            "",
        ])

    def _ha_lines(self) -> list[str]:
        """The op-conductor cluster and its members' op-node admin endpoints, and the replica
        op-node: stand-ins whose faults are their own (conductor-*, replica-*), not behind proxies."""
        def named(items: list[tuple[str, str]]) -> str:
            return "[" + ", ".join(f'{{ name = "{n}", url = "{u}" }}' for n, u in items) + "]"

        lines = []
        if self.conductors is not None:
            names = self.conductors.names
            lines += _if_known("conductors", "conductors = " + named(
                [(n, self.conductors.conductor_url(n)) for n in names]))
            lines += _if_known("sequencer_nodes", "sequencer_nodes = " + named(
                [(f"sequencer-{i}", self.conductors.op_node_url(n)) for i, n in enumerate(names)]))
        if self.replica_server is not None:
            lines += _if_known("rollup_nodes", "rollup_nodes = " + named([("replica-0", self.replica_server.url)]))
        return lines

    def _settlement_lines(self) -> list[str]:
        if isinstance(self.deployment, proofs.FaultProofDeployment):
            return [f'dispute_game_factory = "{self.deployment.dispute_game_factory}"',
                    f"game_type = {self.deployment.game_type}"]
        return [f'l2_output_oracle = "{self.deployment.l2_output_oracle}"']

    def write_config(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.config_text())
        return path

    def state(self) -> dict[str, Any]:
        procs = [self.l1, self.sequencer, *self.rpc_nodes]
        return {
            "workdir": str(self.workdir),
            "config_path": str(self.config_path),
            "nodes": {p.name: {"url": p.url, "port": p.port, "pid": p.pid, "log": str(p.log_path)} for p in procs},
            "proxies": {
                name: {"url": p.url, "port": p.port, "upstream": p.upstream} for name, p in self.proxies.items()
            },
            "rollup_node": self.rollup_url,
            "replica_node": self.replica_server.url if self.replica_server else None,
            "conductors": ({n: {"conductor": self.conductors.conductor_url(n),
                                "op_node": self.conductors.op_node_url(n)} for n in self.conductors.names}
                           if self.conductors else {}),
            "proofs": self.proofs_mode,
            "addresses": {
                "batcher": BATCHER.address, "proposer": PROPOSER.address, "deployer": DEPLOYER.address,
                "withdrawer": WITHDRAWER.address, "challenger": CHALLENGER.address,
                "batch_inbox": self.batch_inbox, **asdict(self.deployment), **asdict(self.l1_system),
            },
            "faults": self.faults.active_json(),
        }

    def write_state(self, extra: dict[str, Any] | None = None) -> Path:
        """Writes `state.json`; `extra` (e.g. the supervisor's control URL) sticks for later writes."""
        self._state_extra.update(extra or {})
        path = self.workdir / "state.json"
        contracts.write_json(path, {**self.state(), **self._state_extra})
        return path

    # -- teardown -------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for actor in self.actors:
            actor.stop()
        for proxy in self.proxies.values():
            proxy.close()
        self.rollup_server.close()
        if self.replica_server is not None:
            self.replica_server.close()
        if self.conductors is not None:
            self.conductors.close()
        if self.metrics is not None:
            self.metrics.close()
        for proc in [*self.rpc_nodes, self.sequencer, self.l1]:
            proc.stop()

    def __enter__(self) -> Devnet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_for(self, predicate: Any, timeout: float = 20.0, poll: float = 0.2) -> Any:
        """Polls `predicate()` until it returns something truthy (returned) or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(poll)
