"""withdrawals and l1_contracts on the fault-proof devnet, driven through its own faults (issue #17).

The devnet runs the real OptimismPortal2, SystemConfig and SuperchainConfig behind proxies, an
honest user whose withdrawals are sent on L2 and proven on L1 with real proofs, a proposer of
true games and an honest challenger. The faults are thrown through the devnet's fault switch,
never by posting directly:

- honest withdrawals proven for a minute never fire either check, and no honest proof is ever
  reported forged for the whole module (two and a half minutes of proofs, faults included);
- `forged-withdrawal` fires `withdrawals` (critical, naming hash, submitter and L1 tx); its heal
  (the guardian blacklists the game) leaves the proof harmless: ok, reported in details;
- a forged game the challenger counters and that resolves CHALLENGER_WINS is harmless too;
- `pause` fires `l1_contracts/paused`, its heal resolves it;
- `rotate-batcher` fires `l1_contracts/batcher_key` and warns `config` (decoded);
- `upgrade-proxy` to an implementation in `allowed_implementations` does not page; to another
  one it fires `upgrades`.

One fault-proof devnet of this module's own: the session devnet is shared and must stay healthy.
Tests run in file order (the chain each leaves is the next one's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from devnet_config import tight_config_text
from opwatch.checks import CHECKS, Context, evaluate
from opwatch.config import Config, parse_config
from opwatch.findings import Finding, Severity, Status
from opwatch_devnet import contracts, portal, proofs
from opwatch_devnet.jsonrpc import RpcClient
from opwatch_devnet.keys import DEPLOYER, GRIEFER
from opwatch_devnet.topology import L1_CHAIN_ID, Devnet

pytestmark = pytest.mark.anvil

CLOCK_S = 30  # the games' clock: a countered forged game resolves within the module's time
SLACK_S = 60.0  # L1 blocks, actor steps and a busy 2-core machine: not the behaviour under test
HEALTHY_RUN_S = 60.0  # the first minute alone; honest proofs are watched for the whole module
UNKNOWN_RUNS_BEFORE_WARNING = 5  # both checks' Timing: a blind spot warns after 5 unknown runs

# Every withdrawals finding of the module: no honest proof may ever be among the forged.
SEEN: list[Finding] = []


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with Devnet.start(tmp_path_factory.mktemp("l1-faults"), proofs_mode="fault", max_clock_duration=CLOCK_S,
                      rpc_nodes=1) as devnet:
        yield devnet


@pytest.fixture(scope="module")
def config(net: Devnet) -> Config:
    return parse_config(tight_config_text(net))


def run(config: Config, check: str) -> list[Finding]:
    findings = evaluate(CHECKS[check], Context(config.network("devnet"), config.rpc))
    if check == "withdrawals":
        SEEN.extend(findings)
    return findings


def withdrawals(config: Config) -> Finding:
    (finding,) = run(config, "withdrawals")
    return finding


def target(config: Config, name: str) -> Finding:
    (found,) = [f for f in run(config, "l1_contracts") if f.target == name]
    return found


def wait_for(probe: Callable[[], Finding], want: Callable[[Finding], bool], timeout: float = SLACK_S) -> Finding:
    deadline = time.monotonic() + timeout
    while True:
        finding = probe()
        if want(finding) or time.monotonic() > deadline:
            return finding
        time.sleep(1.0)


def allowing(net: Devnet, *implementations: str) -> Config:
    listed = ", ".join(f'"{i}"' for i in implementations)
    return parse_config(tight_config_text(net) + f"\n[networks.devnet.l1_contracts]\n"
                                                 f"allowed_implementations = [{listed}]\n")


def firing(f: Finding) -> bool:
    return f.status == Status.FIRING


def test_honest_withdrawals_proven_for_a_minute_never_fire(net: Devnet, config: Config) -> None:
    first = wait_for(lambda: withdrawals(config), lambda f: f.details.get("proofs_checked", 0) >= 1)
    assert first.status == Status.OK, first.summary
    proven_before = len(net.prover.proven)
    seen: list[Finding] = []
    started = time.monotonic()
    while time.monotonic() - started < HEALTHY_RUN_S:
        seen += [withdrawals(config), *run(config, "l1_contracts")]
        time.sleep(1.0)
    assert not [f"{f.check}/{f.target}: {f.summary}" for f in seen if f.status == Status.FIRING]
    for check in ("withdrawals", "l1_contracts"):
        statuses = "".join("u" if f.status == Status.UNKNOWN else "." for f in seen if f.check == check)
        assert "u" * UNKNOWN_RUNS_BEFORE_WARNING not in statuses, (check, statuses)
    assert len(net.prover.proven) > proven_before, net.prover.refused  # proofs kept landing meanwhile
    last = [f for f in seen if f.check == "withdrawals"][-1]
    assert last.details["proofs_checked"] > first.details["proofs_checked"]


def test_forged_withdrawal_fires_and_the_blacklist_heal_makes_it_harmless(net: Devnet, config: Config) -> None:
    net.fault("forged-withdrawal")
    forged = dict(net.faults.active["forged-withdrawal"])
    try:
        fired = wait_for(lambda: withdrawals(config), firing)
        assert fired.status == Status.FIRING and fired.severity == Severity.CRITICAL, fired.summary
        (row,) = fired.details["forged"]
        assert row["withdrawal_hash"] == forged["withdrawal_hash"]
        assert row["proof_submitter"] == GRIEFER.address.lower()
        assert row["l1_tx"] == forged["prove_tx"]
        assert forged["withdrawal_hash"] in fired.summary and forged["prove_tx"] in fired.summary
    finally:
        net.heal("forged-withdrawal")
    healed = withdrawals(config)
    assert healed.status == Status.OK, healed.summary
    (harmless,) = [r for r in healed.details["harmless"] if r["withdrawal_hash"] == forged["withdrawal_hash"]]
    assert "blacklisted" in str(harmless["harmless"]) and forged["game"].lower() in str(harmless["harmless"])


def test_a_forged_game_the_challenger_wins_leaves_its_proof_harmless(net: Devnet, config: Config) -> None:
    assert net.challenger is not None
    net.fault("forged-withdrawal")  # the challenger is paused: nobody counters the forged game yet
    forged = dict(net.faults.active["forged-withdrawal"])
    game = forged["game"]
    try:
        fired = wait_for(lambda: withdrawals(config), firing)
        assert fired.status == Status.FIRING, fired.summary
        assert [r["withdrawal_hash"] for r in fired.details["forged"]] == [forged["withdrawal_hash"]]
        net.challenger.resume()  # counters the game in time; its clock runs out; it resolves
        l1 = RpcClient(net.l1_url)
        assert net.wait_for(lambda: proofs.status(l1, game) != proofs.IN_PROGRESS, timeout=CLOCK_S + SLACK_S)
        assert proofs.status(l1, game) == proofs.CHALLENGER_WINS
        ok = withdrawals(config)
        assert ok.status == Status.OK, ok.summary
        (harmless,) = [r for r in ok.details["harmless"] if r["withdrawal_hash"] == forged["withdrawal_hash"]]
        assert "CHALLENGER_WINS" in str(harmless["harmless"]) and game.lower() in str(harmless["harmless"])
    finally:
        net.heal("forged-withdrawal")


def test_pause_fires_paused_and_the_unpause_resolves_it(net: Devnet, config: Config) -> None:
    net.fault("pause", identifier="drill: l1_faults_on_devnet")
    try:
        paused = target(config, "paused")
        assert paused.status == Status.FIRING and paused.severity == Severity.CRITICAL, paused.summary
        assert paused.details["pause_event"]["identifier"] == "drill: l1_faults_on_devnet"
        assert paused.details["pause_event"]["l1_tx"] == net.faults.active["pause"]["tx"]
    finally:
        net.heal("pause")
    assert target(config, "paused").status == Status.OK


def test_rotate_batcher_fires_batcher_key_and_warns_config(net: Devnet, config: Config) -> None:
    net.fault("rotate-batcher")
    try:
        findings = run(config, "l1_contracts")
        key = next(f for f in findings if f.target == "batcher_key")
        assert key.status == Status.FIRING and key.severity == Severity.CRITICAL, key.summary
        assert key.details["system_config_batcher"] == GRIEFER.address.lower()
        update = next(f for f in findings if f.target == "config")
        assert update.status == Status.FIRING and update.severity == Severity.WARNING, update.summary
        assert {"update": "BATCHER", "batcher": GRIEFER.address.lower()}.items() <= \
            update.details["updates"][-1].items()
    finally:
        net.heal("rotate-batcher")
    assert target(config, "batcher_key").status == Status.OK


def test_an_upgrade_to_an_allowed_implementation_does_not_page_and_another_does(net: Devnet) -> None:
    system = net.l1_system
    planned = portal.deploy_implementation(contracts.Sender(RpcClient(net.l1_url), DEPLOYER, L1_CHAIN_ID),
                                           system, "system_config")
    # The operators list the planned implementation, and the current one they may roll back to.
    cfg = allowing(net, planned, system.system_config_impl)
    net.fault("upgrade-proxy", target="system_config", implementation=planned)
    try:
        up = target(cfg, "upgrades")
        assert up.status == Status.OK, up.summary
        assert [r["new"] for r in up.details["planned"]] == [planned.lower()]
    finally:
        net.heal("upgrade-proxy")
    assert target(cfg, "upgrades").status == Status.OK  # the roll-back is planned too
    net.fault("upgrade-proxy", target="optimism_portal")  # a fresh copy of the portal's code: unplanned
    recorded = dict(net.faults.active["upgrade-proxy"])
    try:
        up = target(cfg, "upgrades")
        assert up.status == Status.FIRING and up.severity == Severity.CRITICAL, up.summary
        (row,) = up.details["unplanned"]
        assert row["proxy"] == system.optimism_portal.lower() and row["l1_tx"] == recorded["tx"]
        assert row["old"] == system.optimism_portal_impl.lower()
        assert row["new"] == recorded["implementation"].lower()
    finally:
        net.heal("upgrade-proxy")


def test_no_honest_proof_was_ever_reported_forged(net: Devnet) -> None:
    honest = {p.withdrawal_hash for p in net.prover.proven}
    assert len(honest) >= 5, "too few honest proofs for the module to prove anything"
    reported = {r["withdrawal_hash"] for f in SEEN for r in f.details.get("forged", [])}
    assert reported, "no forged proof was ever reported: the faults did not run"
    assert not honest & reported
