"""Prometheus metrics of the devnet's components, under the real components' own names and labels.

So that the alert rules teams write against a real OP Stack deployment run unchanged against the
devnet (bench/anchor/, the Prometheus + Alertmanager anchor of docs/benchmarks.md). One HTTP
server on a free loopback port; each component has its own path, as each real process has its
own metrics port:

- `/op-node/metrics` stands in for op-node's metrics (`--metrics.enabled`): namespace
  `op_node_default`, and `refs_number`, `refs_time` (gauges labelled `layer`, `type`) and
  `refs_seqnr` (labelled `type`), as op-service/metrics/ref_metrics.go (`MakeRefMetrics`,
  `RecordRef`, `RecordL2Ref`) in the optimism monorepo defines them; the `type` values are what
  op-node records: `l2_unsafe`, `l2_safe`, `l2_finalized`, `l2_pending_safe`, `l2_local_safe`,
  `l2_cross_unsafe` (op-node/rollup/engine/engine_controller.go, `RecordL2Ref("l2_unsafe", ...)`)
  and `l1_head`, `l1_safe`, `l1_finalized`, `l1_derived` for layer `l1`. An L2 ref also records
  its L1 origin's number under layer `l1_origin`. Read from the op-node stand-in's own sync
  status at each scrape (op-node updates them as its heads move: the same values).
- `/op-batcher/metrics` stands in for op-batcher's: namespace `op_batcher_default`;
  `batcher_tx_total{stage}` and `last_batcher_tx_unix{stage}` (an `EventVec` named `batcher_tx`,
  stages `submitted`, `success`, `failed`: op-batcher/metrics/metrics.go and
  op-service/metrics/event.go), and `balance`, the batcher account's balance in ether, which
  op-service/metrics/balance.go (`LaunchBalanceMetrics`) refreshes every 10 s, not at each
  scrape: so does this stand-in. `submitted` counts the batcher actor's sends; `success` counts
  the batches the op-node stand-in's L1 scan found landed, its time the L1 block's timestamp.
- `/op-geth/<node>/metrics` stands in for each execution client's (`--metrics`, geth's
  Prometheus exporter at /debug/metrics/prometheus): `chain_head_block`, geth's
  `chain/head/block` gauge (core/blockchain.go), for the sequencer and each RPC replica.

A stand-in, never deployed: it lives under devnet/. It reads the nodes directly (not through
the fault proxies), as each real process knows its own state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from opwatch_devnet.jsonrpc import RpcClient, RpcError

if TYPE_CHECKING:
    from opwatch_devnet.actors import Batcher
    from opwatch_devnet.rollup_node import BatchScanner, RollupNode
    from opwatch_devnet.topology import Devnet

log = logging.getLogger("opwatch_devnet")

OP_NODE_NS = "op_node_default"
OP_BATCHER_NS = "op_batcher_default"
BALANCE_REFRESH_S = 10.0  # op-service/metrics/balance.go: time.NewTicker(10 * time.Second)
_L2_REFS = ("unsafe", "safe", "finalized", "pending_safe", "local_safe", "cross_unsafe")
_L1_REFS = {"head_l1": "l1_head", "safe_l1": "l1_safe", "finalized_l1": "l1_finalized", "current_l1": "l1_derived"}
_READ_ERRORS = (OSError, RpcError, TimeoutError, ValueError, KeyError, TypeError)


class _Collector:
    """A prometheus_client collector over a function that yields metric families at scrape time."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._collect()
        except _READ_ERRORS as err:
            # A component that cannot read its own state exposes nothing (the series go stale),
            # as a real process that is down does: never a made-up value.
            log.debug("metrics: %s", err)


def op_node_families(rollup: RollupNode) -> list[Metric]:
    status = rollup.sync_status()
    number = GaugeMetricFamily(f"{OP_NODE_NS}_refs_number", "Gauge representing the different L1/L2 reference "
                               "block numbers", labels=["layer", "type"])
    stamp = GaugeMetricFamily(f"{OP_NODE_NS}_refs_time", "Gauge representing the different L1/L2 reference "
                              "block timestamps", labels=["layer", "type"])
    seqnr = GaugeMetricFamily(f"{OP_NODE_NS}_refs_seqnr", "Gauge representing the different L2 reference "
                              "sequence numbers", labels=["type"])
    for key, name in _L1_REFS.items():
        ref = status[key]
        number.add_metric(["l1", name], ref["number"])
        stamp.add_metric(["l1", name], ref["timestamp"])
    for short in _L2_REFS:
        ref, name = status[f"{short}_l2"], f"l2_{short}"
        number.add_metric(["l2", name], ref["number"])
        stamp.add_metric(["l2", name], ref["timestamp"])
        number.add_metric(["l1_origin", name], ref["l1origin"]["number"])
        seqnr.add_metric([name], ref["sequenceNumber"])
    up = GaugeMetricFamily(f"{OP_NODE_NS}_up", "1 if the op-node has finished starting up", value=1)
    return [number, stamp, seqnr, up]


@dataclass
class _Balance:
    """op-batcher's balance gauge: refreshed every BALANCE_REFRESH_S by a loop of its own."""

    l1: RpcClient
    account: str
    ether: float | None = None

    def refresh(self) -> None:
        try:
            self.ether = int(self.l1.call("eth_getBalance", self.account, "latest"), 16) / 10**18
        except _READ_ERRORS as err:
            log.debug("metrics: batcher balance: %s", err)  # balance.go logs and keeps the last value


def op_batcher_families(batcher: Batcher, scanner: BatchScanner, balance: _Balance) -> list[Metric]:
    total = CounterMetricFamily(f"{OP_BATCHER_NS}_batcher_tx", "Count of BatcherTx events", labels=["stage"])
    last = GaugeMetricFamily(f"{OP_BATCHER_NS}_last_batcher_tx_unix", "Timestamp of last BatcherTx event",
                             labels=["stage"])
    total.add_metric(["submitted"], batcher.submitted_total)
    if batcher.submissions:
        last.add_metric(["submitted"], batcher.submissions[-1].sent_at)
    with scanner.lock:
        landed = list(scanner.landed)
        times = {b.number: b.timestamp for b in scanner.l1_blocks}
    total.add_metric(["success"], len(landed))
    if landed and landed[-1].l1_number in times:
        last.add_metric(["success"], times[landed[-1].l1_number])
    families: list[Metric] = [total, last]
    if balance.ether is not None:
        families.append(GaugeMetricFamily(f"{OP_BATCHER_NS}_balance", f"balance (in ether) of account "
                                          f"{balance.account}", value=balance.ether))
    families.append(GaugeMetricFamily(f"{OP_BATCHER_NS}_up", "1 if the op-batcher has finished starting up", value=1))
    return families


def op_geth_families(node: RpcClient) -> list[Metric]:
    return [GaugeMetricFamily("chain_head_block", "", value=node.block_number())]


class MetricsServer:
    """Serves each component's registry at its path; `urls` maps component → scrape URL."""

    def __init__(self, registries: dict[str, CollectorRegistry], balance: _Balance | None = None,
                 port: int = 0) -> None:
        self.registries = registries
        self._balance = balance
        self._stop = threading.Event()
        served = registries

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                registry = served.get(self.path.rstrip("/").removesuffix("/metrics").strip("/"))
                if registry is None:
                    self.send_error(404, f"no metrics at {self.path}; have {sorted(served)}")
                    return
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_devnet(cls, devnet: Devnet, port: int = 0) -> MetricsServer:
        from opwatch_devnet.keys import BATCHER
        from opwatch_devnet.rollup_node import RollupNode
        from opwatch_devnet.topology import L1_CHAIN_ID, L2_CHAIN_ID

        balance = _Balance(RpcClient(devnet.l1_url), BATCHER.address)
        # The stand-in's state is its scanner and sequencer switch: a second view over them
        # reports exactly what the served one does.
        rollup = RollupNode(RpcClient(devnet.l1_url), RpcClient(devnet.l2_url), devnet.scanner,
                            devnet.sequencer_control, L1_CHAIN_ID, L2_CHAIN_ID, devnet.l2_block_time)
        registries = {
            "op-node": _registry(lambda: op_node_families(rollup)),
            "op-batcher": _registry(lambda: op_batcher_families(devnet.batcher, devnet.scanner, balance)),
        }
        for proc in [devnet.sequencer, *devnet.rpc_nodes]:
            client = RpcClient(proc.url, timeout=2.0)
            registries[f"op-geth/{proc.name}"] = _registry(lambda c=client: op_geth_families(c))  # type: ignore[misc]
        return cls(registries, balance, port)

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{self.port}/{name}/metrics" for name in self.registries}

    def start(self) -> MetricsServer:
        serve = threading.Thread(target=self._server.serve_forever, name="devnet-metrics", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self._balance is not None:
            balance = self._balance
            balance.refresh()  # balance.go's first tick comes 10 s after start; a value now is kinder

            def loop() -> None:
                while not self._stop.wait(BALANCE_REFRESH_S):
                    balance.refresh()

            ticker = threading.Thread(target=loop, name="devnet-metrics-balance", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def _registry(collect: Callable[[], Iterable[Metric]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(collect))
    return registry
