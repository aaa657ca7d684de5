"""Top-up against a real anvil L1: it pays to the target once, and every guard refuses.

Each test would fail if its guard were removed: the duplicate pays once, the caps refuse,
an unknown finding never acts, the gas ceiling and the recipient list hold.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.findings import Finding, Measure, Severity, Status
from opwatch.remedies.request import RemedyRequest
from opwatch.remedies.signer import EnvSecretSource, LocalKeySigner
from opwatch.remedies.store import SqliteRemedyStore
from opwatch.remedies.topup import Topup
from remedies_fixtures import BATCHER, FUNDER, FUNDER_KEY, L1_CHAIN_ID, PROPOSER, config_text, load, topup_section

pytestmark = pytest.mark.anvil
ETH = 10**18


@pytest.fixture(scope="module")
def l1(tmp_path_factory):
    from opwatch_devnet.anvil import AnvilProcess

    with AnvilProcess.start("l1", tmp_path_factory.mktemp("l1"), ["--chain-id", str(L1_CHAIN_ID)]) as proc:
        yield proc.url


def client(url: str) -> RpcClient:
    return RpcClient(Endpoint(url, "l1"), retries=0)


def balance(url: str, address: str) -> int:
    return int(client(url).call("eth_getBalance", address, "latest"), 16)


def set_balance(url: str, address: str, wei: int) -> None:
    client(url).call("anvil_setBalance", address, hex(wei))


def nonce(url: str) -> int:
    return int(client(url).call("eth_getTransactionCount", FUNDER, "latest"), 16)


def make(l1: str, tmp_path: Path, key: str = FUNDER_KEY, store: SqliteRemedyStore | None = None, **policy) -> Topup:
    store_path = tmp_path / "remedies.db"
    config = load(config_text(l1, topup_section(store_path, **policy)))
    signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": key}), "OPWATCH_FUNDER_KEY", FUNDER)
    return Topup(config.network("devnet"), config.section("remediation").for_network("devnet"),
                 store or SqliteRemedyStore(store_path), signer, [client(l1)])


def manual(request_id: str, target: str = "batcher", dry_run: bool = False) -> RemedyRequest:
    return RemedyRequest("topup", "devnet", request_id, target=target, dry_run=dry_run, approved_by="test")


def runway_finding(status: Status, target: str = "batcher") -> Finding:
    return Finding(network="devnet", check="wallet_runway", target=target, status=status,
                   severity=Severity.CRITICAL, summary="runway", observed=Measure(1.0, "h"),
                   threshold=Measure(24.0, "h"), observed_at="2024-01-01T00:00:00Z")


def test_pays_up_to_the_target_and_reports_the_hash(l1, tmp_path):
    set_balance(l1, BATCHER, 7 * ETH)
    outcome = make(l1, tmp_path).run(manual("pay-1"))
    assert outcome.status == "sent", outcome.reason
    assert outcome.tx_hash and outcome.block
    assert balance(l1, BATCHER) == 10 * ETH
    receipt = client(l1).call("eth_getTransactionReceipt", outcome.tx_hash)
    assert receipt["type"] == "0x2" and receipt["from"].lower() == FUNDER.lower()


def test_dry_run_shows_the_transaction_and_sends_nothing(l1, tmp_path):
    set_balance(l1, BATCHER, 6 * ETH)
    before = nonce(l1)
    outcome = make(l1, tmp_path).run(manual("dry-1", dry_run=True))
    assert outcome.status == "dry-run"
    assert outcome.plan is not None and outcome.plan.amount_wei == 4 * ETH
    assert outcome.plan.recipient == BATCHER and outcome.plan.max_fee_wei <= 100 * 10**9
    assert nonce(l1) == before and balance(l1, BATCHER) == 6 * ETH


def test_already_funded_is_skipped(l1, tmp_path):
    set_balance(l1, BATCHER, 11 * ETH)
    assert make(l1, tmp_path).run(manual("funded-1")).status == "skipped"
    assert balance(l1, BATCHER) == 11 * ETH


def test_duplicate_request_pays_once_even_when_delivered_concurrently(l1, tmp_path):
    set_balance(l1, BATCHER, 8 * ETH)
    topups = [make(l1, tmp_path) for _ in range(4)]
    # Drain again between deliveries would be the dangerous case: a second delivery must
    # not pay because the first one's claim is found, not because the balance is full.
    outcomes = []
    barrier = threading.Barrier(4)

    def deliver(t: Topup) -> None:
        barrier.wait()
        outcomes.append(t.run(manual("dup-1")))

    threads = [threading.Thread(target=deliver, args=(t,)) for t in topups]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(o.status for o in outcomes).count("sent") == 1, [o.reason for o in outcomes]
    assert balance(l1, BATCHER) == 10 * ETH
    set_balance(l1, BATCHER, 1 * ETH)  # drained again: a retry of the SAME request still pays nothing
    again = make(l1, tmp_path).run(manual("dup-1"))
    assert again.status == "duplicate" and balance(l1, BATCHER) == 1 * ETH


def test_rolling_day_cap_holds_under_concurrent_requests(l1, tmp_path):
    # Each needs 4 ETH; the day cap is 8 ETH: of three concurrent requests exactly two pay.
    store = SqliteRemedyStore(tmp_path / "remedies.db")
    set_balance(l1, BATCHER, 6 * ETH)
    set_balance(l1, PROPOSER, 6 * ETH)
    first = make(l1, tmp_path, store=store).run(manual("cap-a", "batcher"))
    assert first.status == "sent"
    set_balance(l1, BATCHER, 6 * ETH)
    outcomes: list = []
    barrier = threading.Barrier(2)

    def go(rid: str, role: str) -> None:
        barrier.wait()
        outcomes.append(make(l1, tmp_path).run(manual(rid, role)))

    threads = [threading.Thread(target=go, args=("cap-b", "batcher")),
               threading.Thread(target=go, args=("cap-c", "proposer"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    statuses = sorted(o.status for o in outcomes)
    assert statuses == ["refused", "sent"], [o.reason for o in outcomes]
    # The loser met either the funder lease (the two overlapped) or the cap; asked again, the
    # cap answers, whichever of the two was paid.
    refused = next(o for o in outcomes if o.status == "refused")
    if "24 h cap" not in refused.reason:
        assert "another top-up is sending" in refused.reason
        batcher_paid = any(o.status == "sent" and o.plan and o.plan.role == "batcher" for o in outcomes)
        set_balance(l1, BATCHER, 6 * ETH)
        again = make(l1, tmp_path).run(manual("cap-c", "proposer") if batcher_paid else manual("cap-b", "batcher"))
        assert again.status == "refused" and "24 h cap" in again.reason, again.reason
    assert store.spent("topup:devnet", 86400, __import__("time").time()) == 8 * ETH


def test_above_the_per_transaction_cap_is_refused(l1, tmp_path):
    set_balance(l1, BATCHER, 1 * ETH)  # needs 9 ETH, cap 5 ETH
    before = nonce(l1)
    outcome = make(l1, tmp_path).run(manual("big-1"))
    assert outcome.status == "refused" and "per-transaction cap" in outcome.reason
    assert nonce(l1) == before and balance(l1, BATCHER) == 1 * ETH


def test_unknown_finding_never_acts_even_with_auto_on(l1, tmp_path):
    set_balance(l1, BATCHER, 8 * ETH)
    topup = make(l1, tmp_path, auto=True, approval="auto")
    request = RemedyRequest.from_finding(runway_finding(Status.UNKNOWN))
    outcome = topup.run(request)
    assert outcome.status == "refused" and "unknown" in outcome.reason
    assert balance(l1, BATCHER) == 8 * ETH


def test_firing_finding_acts_only_when_policy_allows(l1, tmp_path):
    set_balance(l1, BATCHER, 8 * ETH)
    request = RemedyRequest.from_finding(runway_finding(Status.FIRING))
    assert make(l1, tmp_path, auto=True, approval="manual").run(request).status == "refused"
    assert make(l1, tmp_path / "b", auto=False, approval="auto").run(request).status == "refused"
    assert balance(l1, BATCHER) == 8 * ETH
    outcome = make(l1, tmp_path / "c", auto=True, approval="auto").run(request)
    assert outcome.status == "sent" and balance(l1, BATCHER) == 10 * ETH
    # The same finding delivered again (SNS at-least-once) is the same request: nothing more.
    set_balance(l1, BATCHER, 8 * ETH)
    assert make(l1, tmp_path / "c", auto=True, approval="auto").run(request).status == "duplicate"


def test_gas_price_above_the_ceiling_is_refused(l1, tmp_path):
    set_balance(l1, BATCHER, 8 * ETH)
    rpc = client(l1)
    rpc.call("anvil_setNextBlockBaseFeePerGas", hex(500 * 10**9))
    rpc.call("evm_mine")
    outcome = make(l1, tmp_path).run(manual("gas-1"))
    assert outcome.status == "refused" and "ceiling" in outcome.reason
    assert balance(l1, BATCHER) == 8 * ETH
    for _ in range(40):  # let EIP-1559 bring the base fee back down for the other tests
        rpc.call("evm_mine")


def test_only_configured_recipients_are_paid(l1, tmp_path):
    outcome = make(l1, tmp_path).run(manual("who-1", target="0x000000000000000000000000000000000000dEaD"))
    assert outcome.status == "refused" and "not a configured recipient" in outcome.reason


def test_a_key_that_is_not_the_funders_sends_nothing_and_frees_the_request(l1, tmp_path):
    set_balance(l1, BATCHER, 8 * ETH)
    other_key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil account 1
    outcome = make(l1, tmp_path, key=other_key).run(manual("key-1"))
    assert outcome.status == "failed" and "not the configured funder" in outcome.reason
    assert other_key[2:] not in outcome.reason
    assert balance(l1, BATCHER) == 8 * ETH
    assert make(l1, tmp_path).run(manual("key-1")).status == "sent"  # the claim was released


def test_every_step_is_audited_without_the_key(l1, tmp_path):
    set_balance(l1, BATCHER, 5 * ETH)
    topup = make(l1, tmp_path)
    topup.run(manual("audit-1"))
    records = topup.store.audit()
    steps = [r["step"] for r in reversed(records) if r["request_id"] == "audit-1"]
    assert steps == ["read-balance", "broadcast", "result"]
    assert FUNDER_KEY[2:] not in str(records)


def test_a_wallet_within_ten_percent_of_target_is_not_topped_up_with_dust(l1, tmp_path):
    set_balance(l1, BATCHER, 9 * ETH + ETH // 2)  # 9.5 of 10: a busy batcher spent a little
    outcome = make(l1, tmp_path).run(manual("dust-1"))
    assert outcome.status == "skipped" and "within 10 %" in outcome.reason
    assert balance(l1, BATCHER) == 9 * ETH + ETH // 2


def test_a_gcp_top_up_reads_the_funder_key_from_secret_manager_at_call_time(l1, tmp_path):
    """`gcp-secretmanager:` through the real google-cloud-secret-manager client (REST) to the
    Google APIs stand-in: the key is read when the top-up runs, never held in the config, and a
    key of another wallet is refused before anything is signed."""
    from gcp_standins import GoogleApisStandIn
    from opwatch.cli.compose import registry as local_registry
    from opwatch.gcp.secret_source import client_for_endpoint
    from opwatch.remedies.service import Seams, handle

    secret = "projects/opwatch-test/secrets/funder"
    apis = GoogleApisStandIn.start()
    try:
        section = topup_section(tmp_path / "r.db").replace(
            'secret = "env:OPWATCH_FUNDER_KEY"', f'secret = "gcp-secretmanager:{secret}"').replace(
            '[remediation.networks.devnet]\n', '[remediation.networks.devnet]\nruns_on = "gcp"\n')
        config = load(config_text(l1, section))
        seams = Seams(registry=local_registry(),
                      store=SqliteRemedyStore(tmp_path / "r.db"), gcp_secret_client=client_for_endpoint(apis.base_url))
        set_balance(l1, BATCHER, 7 * ETH)
        apis.secrets[secret] = b"0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n"  # anvil key 1
        wrong = handle(manual("gcp-wrong"), config, seams)
        assert wrong["status"] == "failed" and "not the configured funder" in wrong["reason"], wrong
        assert balance(l1, BATCHER) == 7 * ETH
        apis.secrets[secret] = FUNDER_KEY.encode() + b"\n"  # rotated to the right key: read at call time
        out = handle(manual("gcp-right"), config, seams)
        assert out["status"] == "sent" and balance(l1, BATCHER) == 10 * ETH, out
        assert FUNDER_KEY[2:] not in str(out) and "59c6995e" not in str(wrong)
    finally:
        apis.stop()


def test_a_batcher_rotated_on_system_config_is_never_funded_from_a_stale_config(l1, tmp_path):
    """With `system_config`, the top-up reads the real SystemConfig's batcherHash on L1 before
    paying the batcher: the configured batcher is paid while it is the chain's; once the
    operator rotates the key on chain, the stale address is refused; a contract that is not
    SystemConfig is a refusal that says so, never a payment."""
    from opwatch_devnet.contracts import Sender, deploy_system_config, set_batcher
    from opwatch_devnet.jsonrpc import RpcClient as DevnetRpc
    from opwatch_devnet.keys import DEPLOYER

    deployer = Sender(DevnetRpc(l1), DEPLOYER, L1_CHAIN_ID)
    system_config = deploy_system_config(deployer, BATCHER, "0xFF00000000000000000000000000000000000901")

    def topup(rid: str, at: str) -> dict:
        network = f'system_config = "{at}"\n'
        config = load(config_text(l1, topup_section(tmp_path / "r.db"), extra_network=network))
        signer = LocalKeySigner(EnvSecretSource({"OPWATCH_FUNDER_KEY": FUNDER_KEY}), "OPWATCH_FUNDER_KEY", FUNDER)
        return Topup(config.network("devnet"), config.section("remediation").for_network("devnet"),
                     SqliteRemedyStore(tmp_path / "r.db"), signer, [client(l1)]).run(manual(rid)).to_dict()

    set_balance(l1, BATCHER, 7 * ETH)
    assert topup("sc-1", system_config)["status"] == "sent"
    assert balance(l1, BATCHER) == 10 * ETH
    set_batcher(deployer, system_config, PROPOSER)  # the operator rotates the batcher key
    set_balance(l1, BATCHER, 7 * ETH)
    out = topup("sc-2", system_config)
    assert out["status"] == "refused" and f"SystemConfig names {PROPOSER}" in out["reason"], out
    assert balance(l1, BATCHER) == 7 * ETH
    wrong = topup("sc-3", FUNDER)  # an account, not SystemConfig: eth_call answers "0x"
    assert wrong["status"] == "refused" and "not an address word" in wrong["reason"], wrong
    assert balance(l1, BATCHER) == 7 * ETH
