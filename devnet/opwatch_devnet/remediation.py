"""Remediation on the devnet: opwatch's real remedy service acting on firing findings.

The demo writes a `[remediation]` policy into the devnet's config that lets the top-up run
unattended (approval `auto`, `topup.auto = true`), with anvil's account 0 as the funder, and
hands every round's findings here. Each firing `wallet_runway` finding becomes a request
(`RemedyRequest.from_finding`), and the service applies every guard exactly as in the cloud:
the balance is re-read, a wallet already at target is skipped, caps hold, a request id pays
once. What each request did is returned for the live view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opwatch.config import Config
from opwatch.findings import Finding, Status

from opwatch_devnet.keys import DEPLOYER

FUNDER_ENV = "OPWATCH_DEVNET_FUNDER_KEY"  # only ever set in the Seams, never in os.environ


def policy_text(workdir: Path, network: str = "devnet") -> str:
    """The `[remediation]` section the demo appends: unattended top-up to 40 ETH, capped.

    40 ETH lasts past the 24 h runway limit even at the drain fault's 500 gwei base fee, so
    the remedy alone resolves the alert."""
    return f"""
[remediation]
store = "sqlite:{workdir / 'remedies.db'}"
[remediation.networks.{network}]
approval = "auto"
[remediation.networks.{network}.topup]
auto = true
funder = "{DEPLOYER.address}"     # anvil's account 0 (a published test key)
secret = "env:{FUNDER_ENV}"
target_balance_eth = 40
max_per_tx_eth = 40
max_per_day_eth = 100
max_gas_price_gwei = 1000         # the devnet's drain fault spikes the base fee to 500 gwei
priority_fee_gwei = 1
receipt_timeout = "20s"
"""


@dataclass(frozen=True)
class Action:
    target: str
    status: str  # done | skipped | refused | failed | ...
    text: str


class DevnetRemedies:
    def __init__(self, config: Config) -> None:
        from opwatch.cli.compose import registry as local_registry
        from opwatch.remedies.service import Seams

        self.config = config
        self.seams = Seams(registry=local_registry(), environ={FUNDER_ENV: DEPLOYER.key})
        self.actions: list[Action] = []

    def process(self, findings: Sequence[Finding]) -> list[Action]:
        from opwatch.remedies.request import RemedyRequest
        from opwatch.remedies.service import handle

        done = []
        for finding in findings:
            if finding.check != "wallet_runway" or finding.status != Status.FIRING:
                continue
            result = handle(RemedyRequest.from_finding(finding), self.config, self.seams)
            action = Action(finding.target, str(result.get("status")), describe(finding.target, result))
            done.append(action)
        self.actions.extend(done)
        return done


def describe(target: str, result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "sent":
        plan = result.get("plan") or {}
        amount = f"{int(plan.get('amount_wei', 0)) / 10**18:g} ETH " if plan else ""
        tx = str(result.get("tx_hash") or "")
        return f"top-up of the {target} wallet: sent {amount}(tx {tx[:12]}…, L1 block {result.get('block')})"
    return f"top-up of the {target} wallet: {status}: {result.get('reason') or ''}".rstrip(": ")
