"""The smoke gate: is a rollup, and the opwatch watching it, fit to ship past this point?

A deployment pipeline runs it after a deploy (staging, then production) and stops on failure.
It runs every core check once (`runner.run_checks`) for one network and groups the findings
into gates, each of which passes only when every finding in it is `ok` (`unknown` fails:
a gate that cannot see is not a gate that passed):

  block_production   sequencer_liveness: the sequencer produces blocks at block_time;
                     sequencer_ha: one leader, one active sequencer, none paused (where
                     conductors or sequencer_nodes are configured)
  rpc                rpc_sync: every RPC node answers, on the right chain, and follows;
                     rollup_nodes: the replica op-nodes have peers, derive and agree
  batcher            batcher_lag, batch_submission, the batcher wallet's runway, and its
                     transactions not stuck (tx_health)
  proposer           proposer_freshness, output_root (the proposals' roots are true),
                     dispute_games (fault-proof chains), the proposer wallet's runway, and
                     the proposer's and challenger's transactions not stuck (tx_health)
  finality           finality: the finalized head is fresh and the sequencing window has
                     runway; tx_health's l1 target: no deep L1 reorg, no blob fee spike
  l1_contracts       withdrawals (every proven withdrawal was sent on L2) and l1_contracts's
                     paused, batcher_key and upgrades (a config update in the last day is
                     a warning to read, not a reason to stop a deploy)
  snapshots          snapshot_freshness, where [remediation] keeps snapshots
  watchdog           the deployed opwatch's heartbeat (`checks/heartbeat.py`): the peers
                     `--heartbeat` gives, else those `[heartbeat]` names; a fresh beat proves
                     the scheduled function ran and published its findings (the writer
                     beats only after publishing)

A gate none of whose checks apply to the network (say, no `rollup_rpc`) is `skipped`, and
says why; the gate as a whole passes when no gate failed. Further probes (e.g. "findings
reach the SNS topic", "the Scheduler invoked every function in the last 5 min") need a
cloud account: they plug in as `Probe`s, callables returning a `GateResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .chain.rpc import Transport
from .checks import CHECKS, Context, evaluate
from .checks import heartbeat as heartbeat_check
from .checks.base import why_skipped
from .checks.heartbeat import HeartbeatSource
from .config import Config, Network
from .findings import Finding, Status
from .registry import Registry
from .runner import run_checks

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"

# Gate → the (check id, target or None for every target) findings it is made of, in report order.
GATES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "block_production": (("sequencer_liveness", None), ("sequencer_ha", None)),
    "rpc": (("rpc_sync", None), ("rollup_nodes", None)),
    "batcher": (("batcher_lag", None), ("batch_submission", None), ("wallet_runway", "batcher"),
                ("tx_health", "batcher")),
    "proposer": (("proposer_freshness", None), ("output_root", None), ("dispute_games", None),
                 ("wallet_runway", "proposer"), ("tx_health", "proposer"), ("tx_health", "challenger")),
    "finality": (("finality", None), ("tx_health", "l1")),
    "l1_contracts": (("withdrawals", None), ("l1_contracts", "paused"), ("l1_contracts", "batcher_key"),
                     ("l1_contracts", "upgrades")),
    "snapshots": (("snapshot_freshness", None),),
}
WATCHDOG = "watchdog"
# The heartbeat check runs with the sources the gate is given, not the environment's.
CORE_CHECKS = tuple(c for c in CHECKS if c != heartbeat_check.ID)
SNAPSHOT_CHECK = "snapshot_freshness"


@dataclass
class GateResult:
    name: str
    status: str  # PASS, FAIL or SKIPPED
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""  # why it failed or was skipped, in words

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.name, "status": self.status, "reason": self.reason,
                "findings": [f.to_dict() for f in self.findings]}


Probe = Callable[[Network], GateResult]


@dataclass
class SmokeReport:
    network: str
    gates: list[GateResult]
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(g.status != FAIL for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if g.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "passed": self.passed, "failed": [g.name for g in self.failed],
                "gates": [g.to_dict() for g in self.gates], "wall_s": round(self.wall_s, 2)}


def gate_from(name: str, findings: Sequence[Finding], skipped_why: Sequence[str] = ()) -> GateResult:
    """PASS when every finding is ok; FAIL naming each one that is not; SKIPPED with no findings."""
    if not findings:
        return GateResult(name, SKIPPED, [], "; ".join(skipped_why) or "no check applies")
    bad = [f for f in findings if f.status != Status.OK]
    if not bad:
        return GateResult(name, PASS, list(findings))
    reason = "; ".join(f"{f.check}/{f.target} {f.status}: {f.summary}" for f in bad)
    return GateResult(name, FAIL, list(findings), reason)


def _matches(finding: Finding, check_id: str, target: str | None) -> bool:
    return finding.check == check_id and (target is None or finding.target == target)


def heartbeat_gate(network: Network, config: Config, sources: Mapping[str, HeartbeatSource], max_age_s: float,
                   transport: Transport | None = None, clock: Callable[[], float] = time.time, *,
                   registry: Registry | None = None, seams: Any = None) -> GateResult:
    """The peers `sources` (`--heartbeat` URLs), else every peer `[heartbeat]` names, read
    through `registry` (the CLI's: both clouds' beat readers and secret stores)."""
    if sources:
        check = heartbeat_check.make_check(lambda: sources, max_age_s)
        return gate_from(WATCHDOG, evaluate(check, Context(network, config.rpc, transport, clock)))
    ctx = Context(network, config.rpc, transport, clock, config=config, registry=registry, seams=seams)
    why = why_skipped(heartbeat_check.CHECK, ctx)
    if why:
        return GateResult(WATCHDOG, SKIPPED, [], f"{why} (or --heartbeat URL)")
    return gate_from(WATCHDOG, evaluate(heartbeat_check.CHECK, ctx))


def run_smoke(config: Config, network: str, heartbeat_sources: Mapping[str, HeartbeatSource] | None = None,
              max_heartbeat_age_s: float = heartbeat_check.DEFAULT_MAX_AGE_S, probes: Iterable[Probe] = (),
              transport: Transport | None = None, clock: Callable[[], float] = time.time,
              registry: Registry | None = None) -> SmokeReport:
    started = time.monotonic()
    net = config.network(network)  # raises ConfigError on an unknown network
    ids = list(CORE_CHECKS)
    if "remediation" not in config.sections:
        # snapshot_freshness keeps its snapshot stores per process, by network name, from the
        # last config with [remediation]; without one here, this config has no snapshots.
        ids.remove(SNAPSHOT_CHECK)
    result = run_checks(config, [network], ids, transport, clock)
    if SNAPSHOT_CHECK not in ids:
        result.skipped.append((network, SNAPSHOT_CHECK, "no [remediation] section"))
    gates = []
    for name, parts in GATES.items():
        findings = [f for f in result.findings if any(_matches(f, c, t) for c, t in parts)]
        why = [f"{c}: {w}" for _n, c, w in result.skipped if any(c == p for p, _t in parts)]
        gates.append(gate_from(name, findings, why))
    gates.append(heartbeat_gate(net, config, heartbeat_sources or {}, max_heartbeat_age_s, transport, clock,
                                registry=registry))
    gates.extend(probe(net) for probe in probes)
    return SmokeReport(network, gates, time.monotonic() - started)


def render_text(report: SmokeReport) -> str:
    """A short report for a CI log: the verdict first, then one line per gate, failures named."""
    verdict = "PASS" if report.passed else f"FAIL ({', '.join(g.name for g in report.failed)})"
    lines = [f"opwatch smoke {report.network}: {verdict}  ({report.wall_s:.2f} s)"]
    width = max(len(g.name) for g in report.gates)
    for g in report.gates:
        if g.status == FAIL:
            detail = g.reason
        elif g.status == SKIPPED:
            detail = f"skipped: {g.reason}"
        else:
            detail = f"{len(g.findings)} finding(s) ok"
        lines.append(f"  {g.status.upper():<7} {g.name:<{width}}  {detail}")
    return "\n".join(lines)
