"""A JSON Schema of the config file, for editors (Even Better TOML, VS Code, taplo).

Generated from config.py's own key sets, so the two cannot drift: a key config.py accepts
without a type here is allowed untyped and listed by `untyped()` (and its test fails). The schema checks shapes
(types, patterns, ranges, unknown keys); a few rules need code and are only checked by
`opwatch config validate`: EIP-55 checksums, distinct endpoint names, and the sections owned
by other modules (aws, gcp, alerting, remediation, schedules, heartbeat), which are described
here as tables only. `docs/opwatch.schema.json` is this function's output, committed.
"""

from __future__ import annotations

import json
from typing import Any

from . import config as c

_ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "description": "0x address (EIP-55 or one case)"}
_DURATION = {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$",
             "description": "a duration: '250ms', '30s', '10m', '2h', '1d', or compound largest unit first '1h30m'"}
_URL = {"type": "string", "pattern": r"^https?://[^\s/]+\S*$"}
_ENDPOINT = {"oneOf": [_URL, {"type": "object", "additionalProperties": False, "required": ["url"],
                              "properties": {"url": _URL, "name": {"type": "string", "minLength": 1}}}]}
_ENDPOINTS = {"oneOf": [_ENDPOINT, {"type": "array", "minItems": 1, "items": _ENDPOINT}]}


def _int(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


_NETWORK: dict[str, Any] = {
    "l1_rpc": _ENDPOINTS, "l2_rpc": _ENDPOINT, "rollup_rpc": _ENDPOINT, "rpc_nodes": _ENDPOINTS,
    "trusted_l2_rpc": _ENDPOINTS, "conductors": _ENDPOINTS, "sequencer_nodes": _ENDPOINTS, "rollup_nodes": _ENDPOINTS,
    "l1_chain_id": _int(1, 2**63), "l2_chain_id": _int(1, 2**63),
    "block_time": {"oneOf": [{"type": "number", "exclusiveMinimum": 0, "description": "seconds"}, _DURATION]},
    "batcher": _ADDRESS, "batch_inbox": _ADDRESS, "proposer": _ADDRESS, "l2_output_oracle": _ADDRESS,
    "dispute_game_factory": _ADDRESS, "game_type": _int(0, 2**32 - 1), "system_config": _ADDRESS,
    "optimism_portal": _ADDRESS, "superchain_config": _ADDRESS, "challenger": _ADDRESS,
    "thresholds": "thresholds", "wallets": "wallets", "l1_contracts": "l1_contracts",
}
_THRESHOLDS: dict[str, Any] = {
    "sequencer_max_interval_ratio": _number(1.0, 1000.0), "rpc_max_lag_blocks": _int(1, 10**9),
    "min_peers": _int(1, 10_000), "seq_window_min_blocks": _int(1, 10**9),
    "blob_fee_spike_ratio": _number(1.0, 1e6), "blob_fee_spike_min_gwei": _number(0.0, 1e6),
    **{k: _DURATION for k in ("sequencer_max_head_age", "batcher_max_safe_lag", "batcher_max_submission_age",
                              "wallet_min_runway", "proposer_max_output_age", "output_root_lookback",
                              "dispute_clock_min_remaining", "withdrawals_lookback",
                              "conductor_max_paused", "finality_max_age", "tx_max_stuck")},
}
_WALLET: dict[str, Any] = {
    "txs_per_hour": _number(0.0, 1e6), "gas_per_tx": _int(21_000, 100_000_000), "blobs_per_tx": _int(0, 64),
    "priority_fee_gwei": _number(0.0, 1e6), "max_fee_gwei": _number(0.0, 1e6), "max_blob_fee_gwei": _number(0.0, 1e6),
}
_L1_CONTRACTS: dict[str, Any] = {"watch": {"type": "array", "items": _ADDRESS},
                                 "allowed_implementations": {"type": "array", "items": _ADDRESS},
                                 "lookback": _DURATION}
_RPC: dict[str, Any] = {"timeout": _DURATION, "retries": _int(0, 10), "max_l1_blocks_scanned": _int(1, 100_000)}


# Keys config.py accepts that this module gives no type (found by `untyped()`; its test fails).
# They are still allowed, untyped, so the schema never refuses a config the loader accepts.
_UNTYPED = {"description": "not described by the schema yet: see `opwatch config validate`"}


def _table(props: dict[str, Any], keys: set[str], where: str, required: tuple[str, ...] = (),
           untyped: list[str] | None = None) -> dict[str, Any]:
    props = {k: v for k, v in props.items() if k in keys}  # a key config.py dropped is dropped here
    for key in sorted(keys - set(props)):
        props[key] = _UNTYPED
        if untyped is not None:
            untyped.append(f"{where}.{key}")
    table: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": dict(sorted(props.items()))}
    if required:
        table["required"] = list(required)
    return table


def untyped() -> list[str]:
    """Keys config.py accepts that the schema has no type for (should be none)."""
    found: list[str] = []
    json_schema(found)
    return found


def json_schema(untyped: list[str] | None = None) -> dict[str, Any]:
    network_props = dict(_NETWORK)
    network_props["thresholds"] = _table(_THRESHOLDS, c._THRESHOLD_KEYS, "thresholds", untyped=untyped)
    wallet = _table(_WALLET, c._WALLET_KEYS, "wallets.ROLE", untyped=untyped)
    network_props["wallets"] = _table({role: wallet for role in c._WALLET_ROLES}, set(c._WALLET_ROLES), "wallets",
                                      untyped=untyped)
    network_props["l1_contracts"] = _table(_L1_CONTRACTS, c._L1_CONTRACTS_KEYS, "l1_contracts", untyped=untyped)
    network = _table(network_props, c._NETWORK_KEYS, "networks.NAME", untyped=untyped,
                     required=("l1_rpc", "l2_rpc", "l1_chain_id", "l2_chain_id", "block_time"))
    network["not"] = {"required": ["l2_output_oracle", "dispute_game_factory"]}  # one or the other, not both
    sections = {name: {"type": "object", "description": f"parsed by {module}; see its docs"}
                for name, module in sorted(c.SECTION_PARSERS.items())}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://opwatch.invalid/opwatch.schema.json",
        "title": "opwatch configuration",
        "description": "Checked by shape only: `opwatch config validate FILE` also checks address checksums, "
                       "distinct endpoints and every section's contents.",
        "type": "object",
        "additionalProperties": False,
        "required": ["networks"],
        "properties": {
            "networks": {"type": "object", "minProperties": 1,
                         "propertyNames": {"pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
                         "additionalProperties": network},
            "rpc": _table(_RPC, {"timeout", "retries", "max_l1_blocks_scanned"}, "rpc", untyped=untyped),
            **sections,
        },
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
