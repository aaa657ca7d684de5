"""The devnet's config with thresholds tightened so each fault shows within seconds.

Sized for the devnet's 1 s blocks, a batch every 2 s and an output every 10 L2 blocks; a
short RPC timeout with one retry keeps a dead endpoint from slowing every round.
"""

from __future__ import annotations

from typing import Any

TIGHT = {
    "sequencer_max_head_age": '"3s"',
    "batcher_max_safe_lag": '"12s"',
    "batcher_max_submission_age": '"7s"',
    "wallet_min_runway": '"24h"',
    "proposer_max_output_age": '"22s"',
    "rpc_max_lag_blocks": "5",
}


def tight_config_text(devnet: Any, timeout: str = "2s", **thresholds: str) -> str:
    """The devnet's written config, its thresholds replaced by TIGHT (and any overrides)."""
    values = {**TIGHT, **thresholds}
    base = devnet.config_text().split("[networks.devnet.thresholds]")[0]
    lines = [f'[rpc]\ntimeout = "{timeout}"\nretries = 1\n', "[networks.devnet.thresholds]",
             *(f"{k} = {v}" for k, v in values.items())]
    return base + "\n" + "\n".join(lines) + "\n"
