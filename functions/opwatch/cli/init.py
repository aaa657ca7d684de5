"""`opwatch init --rollup-rpc URL --l1-rpc URL`: a config written from what the chain says about itself.

op-node's `optimism_rollupConfig` gives the chain ids, the block time, the batch inbox, the
SystemConfig address (`l1_system_config_address`), the portal (`deposit_contract_address`) and
the genesis batcher (`genesis.system_config.batcherAddr`). The rest is read on L1 through
SystemConfig's getters: `batcherHash()` (today's batcher, not genesis'), `disputeGameFactory()`,
`optimismPortal()`; then the portal's `respectedGameType()` (fault proofs) or `l2Oracle()` and the
oracle's `PROPOSER()` (legacy). A value that could not be found is written as a commented line
saying what to fill in, never guessed; a getter that reverts or is absent (older releases) counts
as not found. The L1 endpoint must answer the rollup config's L1 chain id.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..chain.errors import ChainError, RpcError
from ..chain.rpc import RpcClient
from ..config import ConfigError, _endpoint, parse_config, to_checksum_address, validate_address
from . import render

EXIT_CODES = ("exit codes: 0 written (commented placeholders may remain: `opwatch config validate` says what "
              "is still missing), 2 bad usage, an endpoint that cannot be read or answers another chain, or "
              "an existing file without --force")
_ZERO = "0x" + "0" * 40


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("init", help="write a config from op-node's rollup config and L1's SystemConfig",
                              description="Write an opwatch config for a chain from op-node's "
                                          "optimism_rollupConfig and the SystemConfig contract on L1. Values "
                                          "it cannot find are written as commented placeholders.",
                              epilog=EXIT_CODES)
    p.add_argument("--rollup-rpc", required=True, metavar="URL", help="op-node's RPC (optimism_rollupConfig)")
    p.add_argument("--l1-rpc", required=True, metavar="URL", action="append",
                   help="an L1 execution RPC (repeatable)")
    p.add_argument("--l2-rpc", metavar="URL", help="the sequencer's execution RPC (else a placeholder)")
    p.add_argument("--network", default="mainnet", metavar="NAME", help="the network's name (default mainnet)")
    p.add_argument("--output", "-o", default="opwatch.toml", metavar="FILE", help="where to write ('-': stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="the report of what was found (the config itself is TOML)")


def _selector(signature: str) -> str:
    from Crypto.Hash import keccak

    return "0x" + keccak.new(digest_bits=256, data=signature.encode()).hexdigest()[:8]


class _L1:
    def __init__(self, client: RpcClient) -> None:
        self.client = client

    def word(self, to: str, signature: str) -> int | None:
        """The first return word of a view call, or None when it reverts or returns nothing."""
        try:
            raw = self.client.call("eth_call", {"to": to, "data": _selector(signature)}, "latest")
        except RpcError:  # a revert, or a getter this release does not have
            return None
        if not isinstance(raw, str) or len(raw) < 66:
            return None
        return int(raw[2:66], 16)

    def address(self, to: str, signature: str) -> str | None:
        word = self.word(to, signature)
        if word is None or word == 0 or word >= 2**160:
            return None
        return to_checksum_address(f"0x{word:040x}")


def discover(rollup: RpcClient, l1: RpcClient) -> tuple[dict[str, Any], dict[str, str]]:
    """(found values by config key, missing keys -> what to fill in). Raises ChainError/ValueError."""
    rc = rollup.call("optimism_rollupConfig")
    if not isinstance(rc, dict):
        raise ValueError("optimism_rollupConfig did not return an object")
    found: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for key in ("l1_chain_id", "l2_chain_id"):
        if not isinstance(rc.get(key), int) or isinstance(rc.get(key), bool):
            raise ValueError(f"optimism_rollupConfig has no integer {key}")
        found[key] = rc[key]
    block_time = rc.get("block_time")
    if isinstance(block_time, int | float) and not isinstance(block_time, bool) and block_time > 0:
        found["block_time"] = block_time
    else:
        missing["block_time"] = "the L2 block time in seconds (block_time in op-node's rollup config)"
    l1_id = int(l1.call("eth_chainId"), 16)
    if l1_id != found["l1_chain_id"]:
        raise ValueError(f"the L1 endpoint is chain {l1_id}, the rollup config says {found['l1_chain_id']}")

    def addr(value: Any) -> str | None:
        try:
            checked = validate_address(value)
        except ValueError:
            return None
        return None if int(checked, 16) == 0 else checked

    system_config = addr(rc.get("l1_system_config_address"))
    inbox = addr(rc.get("batch_inbox_address"))
    portal = addr(rc.get("deposit_contract_address"))
    genesis = rc.get("genesis")
    genesis_sc = genesis.get("system_config") if isinstance(genesis, dict) else None
    genesis_batcher = genesis_sc.get("batcherAddr") if isinstance(genesis_sc, dict) else None
    batcher = None
    chain = _L1(l1)
    factory = oracle = proposer = None
    game_type = None
    if system_config:
        found["system_config"] = system_config
        batcher = chain.address(system_config, "batcherHash()")  # today's batcher: the key may have rotated
        inbox = inbox or chain.address(system_config, "batchInbox()")
        portal = chain.address(system_config, "optimismPortal()") or portal
        factory = chain.address(system_config, "disputeGameFactory()")
    batcher = batcher or addr(genesis_batcher)
    if portal:
        found["optimism_portal"] = portal
        factory = factory or chain.address(portal, "disputeGameFactory()")
        if factory:
            game_type = chain.word(portal, "respectedGameType()")
        else:
            oracle = chain.address(portal, "l2Oracle()")
    if oracle:
        proposer = chain.address(oracle, "PROPOSER()") or chain.address(oracle, "proposer()")
    for key, value, hint in (
        ("batcher", batcher, "the batcher's sender address (SystemConfig.batcherHash())"),
        ("batch_inbox", inbox, "the batch inbox address (batch_inbox_address in the rollup config)"),
        ("proposer", proposer, "the proposer's address (for its wallet runway)"),
    ):
        if value:
            found[key] = value
        else:
            missing[key] = hint
    if factory:
        found["dispute_game_factory"] = factory
        if game_type is not None and game_type < 2**32:
            found["game_type"] = game_type
    elif oracle:
        found["l2_output_oracle"] = oracle
    else:
        missing["l2_output_oracle"] = "L2OutputOracle, or dispute_game_factory on a fault-proof chain"
    if not system_config:
        missing["system_config"] = "SystemConfig on L1 (l1_system_config_address in the rollup config)"
    if not portal:
        missing["optimism_portal"] = "OptimismPortal on L1 (deposit_contract_address in the rollup config)"
    return found, missing


_ORDER = ("l1_rpc", "l2_rpc", "rollup_rpc", "l1_chain_id", "l2_chain_id", "block_time", "batcher", "batch_inbox",
          "proposer", "l2_output_oracle", "dispute_game_factory", "game_type", "system_config", "optimism_portal")


def render_toml(network: str, urls: dict[str, Any], found: dict[str, Any], missing: dict[str, str]) -> str:
    values = {**urls, **found}
    lines = ["# Written by `opwatch init` from op-node's optimism_rollupConfig and SystemConfig on L1.",
             "# Lines starting with '# FILL IN' are values it could not find: set them, then run",
             "# `opwatch config validate` on this file.", "", f"[networks.{network}]"]
    for key in _ORDER:
        if key in values:
            lines.append(f"{key} = {json.dumps(values[key])}")
        elif key in missing:
            lines.append(f"# FILL IN: {key} = ...    # {missing[key]}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        urls: dict[str, Any] = {"l1_rpc": args.l1_rpc if len(args.l1_rpc) > 1 else args.l1_rpc[0],
                                "rollup_rpc": args.rollup_rpc}
        endpoints = [_endpoint(u) for u in [*args.l1_rpc, args.rollup_rpc, *([args.l2_rpc] if args.l2_rpc else [])]]
        if args.l2_rpc:
            urls["l2_rpc"] = args.l2_rpc
    except ValueError as exc:
        render.err(f"bad endpoint: {exc}")
        return 2
    rollup = RpcClient(endpoints[len(args.l1_rpc)], retries=1)
    l1 = RpcClient(endpoints[0], retries=1)
    try:
        found, missing = discover(rollup, l1)
    except (ChainError, ValueError) as exc:  # ChainError messages name endpoints, never their URLs
        render.err(f"cannot read the chain: {exc}")
        return 2
    if not args.l2_rpc:
        missing["l2_rpc"] = "the sequencer's execution RPC URL (required)"
    text = render_toml(args.network, urls, found, missing)
    if not missing:
        try:
            parse_config(text)
        except ConfigError as exc:  # never write a config that the loader refuses
            render.err(str(exc))
            return 2
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = Path(args.output)
        if path.exists() and not args.force:
            render.err(f"{path} exists (use --force to overwrite)")
            return 2
        path.write_text(text)
    report = {"file": args.output, "network": args.network, "found": found, "missing": missing}
    out = sys.stderr if args.output == "-" else sys.stdout
    if args.format == "json":
        print(json.dumps(report, indent=2, sort_keys=True), file=out)
    else:
        print(f"wrote {args.output}: {len(found)} values found on chain", file=out)
        for key, hint in missing.items():
            print(f"  FILL IN {key}: {hint}", file=out)
    return 0


