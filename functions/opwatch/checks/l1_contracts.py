"""l1_contracts: the L1 contracts that run the chain are the ones the operators deployed.

Targets (each present when its keys are configured):
  - `paused` (`optimism_portal`, `superchain_config`): `paused()` on the portal (which asks its
    SuperchainConfig) and on `superchain_config` is false. Fires critical when true:
    withdrawals are halted. SuperchainConfig 0.17.3 has no pause expiry, so the pause lasts
    until the guardian calls `unpause()`; the latest `Paused(identifier)` event of the lookback
    is named when there is one.
  - `batcher_key` (`system_config`, `batcher`): `SystemConfig.batcherHash()` names `batcher`.
    Fires critical when it does not: derivation now ignores batches from the address opwatch
    watches (the key was rotated and the config is stale, or someone rotated it).
  - `upgrades` (every contract address the network names, plus `[l1_contracts] watch`): no
    ERC-1967 `Upgraded` or `AdminChanged`, nor `OwnershipTransferred`, within
    `[l1_contracts] lookback` to an address outside `allowed_implementations`. Fires critical
    naming the proxy, the old and new implementation (the old one read from the ERC-1967 slot at
    the block before the event) or admin/owner, and the L1 transaction. Listed targets are
    reported in `details` as planned. Changes from the zero address (a proxy's first
    implementation and admin) and an owner set by initialize() are the contract's deployment: reported
    under `details.deployment`, not paged.
  - `config` (`system_config`): SystemConfig `ConfigUpdate` events in the lookback, decoded
    (batcher, gas config and fee scalars, gas limit, unsafe block signer). Fires as a warning.
    Updates emitted by initialize() (a transaction that also emits `Initialized` on the
    SystemConfig) are its deployment, counted in `details`, not fired.
Unknown: L1 cannot be read, or a contract answers garbage (not the contract configured).
Remedy: none automatic; see docs/runbooks/l1_contracts.md.
"""

from __future__ import annotations

from ..chain import abi, logs
from ..chain.errors import BadResponse, RpcError
from ..chain.logs import Log
from ..chain.node import Node
from ..config import Network
from ..findings import Measure, Severity, Status
from .base import Check, Context, Hold, Timing, Verdict

PAUSED, BATCHER_KEY, UPGRADES, CONFIG = "paused", "batcher_key", "upgrades", "config"
UNIT = "findings"
# SystemConfig.UpdateType in contracts-bedrock 0.17.3 (src/L1/SystemConfig.sol).
UPDATE_TYPES = {0: "BATCHER", 1: "GAS_CONFIG", 2: "GAS_LIMIT", 3: "UNSAFE_BLOCK_SIGNER"}
_ADDRESS_MASK = (1 << 160) - 1
_ZERO = "0x" + "00" * 20


def watched(net: Network) -> list[str]:
    """Every contract address the network's config names, plus `[l1_contracts] watch`."""
    named = (net.l2_output_oracle, net.dispute_game_factory, net.system_config, net.optimism_portal,
             net.superchain_config, *net.l1_contracts.watch)
    return list(dict.fromkeys(a.lower() for a in named if a))


def targets(net: Network) -> list[str]:
    out = []
    if net.optimism_portal or net.superchain_config:
        out.append(PAUSED)
    if net.system_config and net.batcher:
        out.append(BATCHER_KEY)
    if watched(net):
        out.append(UPGRADES)
    if net.system_config:
        out.append(CONFIG)
    return out


def _bool(raw: bytes | RpcError, what: str, source: str) -> bool:
    if isinstance(raw, RpcError):
        raise BadResponse(source, f"{what} reverted ({raw.message})")
    if not raw:
        raise BadResponse(source, f"{what}: empty answer (no contract code at that address?)")
    return abi.boolean(raw, what, source)


def _event_bytes(log: Log, source: str) -> bytes:
    """The `bytes`/`string` argument that is an event's only non-indexed field."""
    offset, length = abi.words(log.data, 2, "event data", source)
    if offset != 32 or len(log.data) < 64 + length:
        raise BadResponse(source, f"event in tx {log.tx_hash}: malformed bytes argument")
    return log.data[64:64 + length]


def _window(ctx: Context, node: Node, head: int, lookback: float) -> tuple[int, int]:
    return logs.first_block_since(node, ctx.now() - lookback, node.block(head)), head


def measure_paused(ctx: Context, net: Network, head: int) -> Verdict:
    contracts = [(name, a.lower()) for name, a in (("OptimismPortal", net.optimism_portal),
                                                    ("SuperchainConfig", net.superchain_config)) if a]

    def read(node: Node) -> tuple[dict[str, bool], list[Log]]:
        answers = node.eth_calls([(a, abi.PAUSED) for _n, a in contracts], head)
        state = {f"{n} {a}": _bool(raw, f"{n}.paused()", node.name)
                 for (n, a), raw in zip(contracts, answers, strict=True)}
        events: list[Log] = []
        if any(state.values()) and net.superchain_config:
            start, end = _window(ctx, node, head, net.l1_contracts.lookback)
            events = logs.get_logs(node, [net.superchain_config.lower()], [abi.PAUSED_EVENT], start, end)
        return state, events

    state, events = ctx.l1().read(read)
    threshold = Measure(0, "paused contracts")
    details: dict[str, object] = {"l1_block": head, "paused": state}
    halted = [c for c, p in state.items() if p]
    if not halted:
        return Verdict(Status.OK, "withdrawals are not paused", Measure(0, "paused contracts"), threshold, details)
    text = (f"withdrawals are halted: {', '.join(halted)} paused() is true; it stays paused until the guardian "
            "calls unpause() (this SuperchainConfig has no pause expiry)")
    if events:
        last = events[-1]
        ident = _event_bytes(last, "l1").decode("utf-8", "replace")[:200]
        details["pause_event"] = {"identifier": ident, "l1_tx": last.tx_hash, "l1_block": last.block_number}
        text += f"; paused in L1 tx {last.tx_hash} (identifier {ident!r})"
    return Verdict(Status.FIRING, text, Measure(len(halted), "paused contracts"), threshold, details)


def measure_batcher(ctx: Context, net: Network, head: int) -> Verdict:
    assert net.system_config and net.batcher
    system_config, batcher = net.system_config.lower(), net.batcher.lower()

    def read(node: Node) -> int:
        (raw,) = node.eth_calls([(system_config, abi.BATCHER_HASH)], head)
        if isinstance(raw, RpcError) or not raw:
            raise BadResponse(node.name, "SystemConfig.batcherHash(): no answer (not a SystemConfig?)")
        return abi.words(raw, 1, "batcherHash()", node.name)[0]

    word = ctx.l1().read(read)
    named = abi.word_address(word) if word >> 160 == 0 else f"0x{word:064x}"
    threshold = Measure(0, "batcher mismatch")
    details: dict[str, object] = {"l1_block": head, "system_config_batcher": named, "configured_batcher": batcher}
    if named == batcher:
        return Verdict(Status.OK, f"SystemConfig names the configured batcher {batcher}",
                       Measure(0, "batcher mismatch"), threshold, details)
    text = (f"SystemConfig's batcherHash names {named}, not the configured batcher {batcher}: derivation ignores "
            "batches from the address opwatch watches (a stale config after a rotation, or an unplanned rotation)")
    return Verdict(Status.FIRING, text, Measure(1, "batcher mismatch"), threshold, details)


def describe_upgrade(node: Node, log: Log) -> dict[str, object]:
    row: dict[str, object] = {"proxy": log.address, "l1_tx": log.tx_hash, "l1_block": log.block_number}
    if log.topics[0] == abi.UPGRADED and len(log.topics) >= 2:
        old = int(logs.storage_at(node, log.address, abi.IMPLEMENTATION_SLOT, max(0, log.block_number - 1)), 16)
        return row | {"event": "Upgraded", "old": abi.word_address(old & _ADDRESS_MASK), "new": log.topic_address(1)}
    if log.topics[0] == abi.ADMIN_CHANGED:
        old, new = abi.words(log.data, 2, "AdminChanged", node.name)
        return row | {"event": "AdminChanged", "old": abi.word_address(old), "new": abi.word_address(new)}
    if log.topics[0] == abi.OWNERSHIP_TRANSFERRED and len(log.topics) >= 3:
        return row | {"event": "OwnershipTransferred", "old": log.topic_address(1), "new": log.topic_address(2)}
    raise BadResponse(node.name, f"log in tx {log.tx_hash}: not an upgrade event of the expected shape")


def measure_upgrades(ctx: Context, net: Network, head: int) -> Verdict:
    proxies = watched(net)

    def read(node: Node) -> list[dict[str, object]]:
        start, end = _window(ctx, node, head, net.l1_contracts.lookback)
        found = logs.get_logs(node, proxies, [abi.UPGRADED, abi.ADMIN_CHANGED, abi.OWNERSHIP_TRANSFERRED,
                                              abi.INITIALIZED], start, end)
        initializing = {(log.tx_hash, log.address) for log in found if log.topics[0] == abi.INITIALIZED}
        return [describe_upgrade(node, log) | {"initialize": (log.tx_hash, log.address) in initializing}
                for log in found if log.topics[0] != abi.INITIALIZED]

    events = ctx.l1().read(read)
    allowed = {a.lower() for a in net.l1_contracts.allowed_implementations}
    # The deployment, not a change: a proxy's first implementation and admin (from nothing), and
    # the owner initialize() sets. An upgrade that re-initializes still pages by its Upgraded event.
    for e in events:
        e["deployment"] = e["old"] == _ZERO or (e["event"] == "OwnershipTransferred" and bool(e.pop("initialize")))
        e.pop("initialize", None)
    deployment = [e for e in events if e["deployment"]]
    unplanned = [e for e in events if e["new"] not in allowed and not e["deployment"]]
    planned = [e for e in events if e["new"] in allowed and not e["deployment"]]
    threshold = Measure(0, "unplanned upgrades")
    details: dict[str, object] = {"l1_block": head, "watched": proxies, "lookback_s": net.l1_contracts.lookback,
                                  "planned": planned, "deployment": deployment}
    if not unplanned:
        return Verdict(Status.OK, f"no unplanned upgrade of the {len(proxies)} watched contracts "
                       f"({len(planned)} planned)", Measure(0, "unplanned upgrades"), threshold, details)
    e = unplanned[0]
    text = (f"{len(unplanned)} unplanned change(s) to watched L1 contracts: {e['event']} on {e['proxy']} "
            f"from {e['old']} to {e['new']} in L1 tx {e['l1_tx']}")
    return Verdict(Status.FIRING, text, Measure(len(unplanned), "unplanned upgrades"), threshold,
                   details | {"unplanned": unplanned})


def decode_config_update(log: Log, source: str) -> dict[str, object]:
    """A SystemConfig ConfigUpdate, decoded by its updateType (0.17.3's enum)."""
    if len(log.topics) < 3:
        raise BadResponse(source, f"ConfigUpdate in tx {log.tx_hash}: expected version and updateType topics")
    kind = int(log.topics[2], 16)
    payload = _event_bytes(log, source)
    row: dict[str, object] = {"update": UPDATE_TYPES.get(kind, f"type {kind}"), "l1_tx": log.tx_hash,
                              "l1_block": log.block_number}
    values = abi.words(payload, len(payload) // 32, "ConfigUpdate data", source) if len(payload) >= 32 else []
    if kind == 0 and values:
        return row | {"batcher": abi.word_address(values[0]) if values[0] >> 160 == 0 else f"0x{values[0]:064x}"}
    if kind == 1 and len(values) >= 2:
        overhead, scalar = values[:2]
        if scalar >> 248 == 1:  # Ecotone's packed scalar: version byte 1, blob scalar, base fee scalar
            return row | {"basefee_scalar": scalar & 0xFFFFFFFF, "blobbasefee_scalar": (scalar >> 32) & 0xFFFFFFFF}
        return row | {"overhead": overhead, "scalar": scalar}
    if kind == 2 and values:
        return row | {"gas_limit": values[0]}
    if kind == 3 and values:
        return row | {"unsafe_block_signer": abi.word_address(values[0])}
    return row | {"data": "0x" + payload.hex()}


def measure_config(ctx: Context, net: Network, head: int) -> Verdict:
    assert net.system_config
    system_config = net.system_config.lower()

    def read(node: Node) -> tuple[list[dict[str, object]], int]:
        start, end = _window(ctx, node, head, net.l1_contracts.lookback)
        found = logs.get_logs(node, [system_config], [abi.CONFIG_UPDATE, abi.INITIALIZED], start, end)
        initializing = {log.tx_hash for log in found if log.topics[0] == abi.INITIALIZED}
        updates = [log for log in found if log.topics[0] == abi.CONFIG_UPDATE]
        return ([decode_config_update(log, node.name) for log in updates if log.tx_hash not in initializing],
                sum(1 for log in updates if log.tx_hash in initializing))

    updates, at_initialize = ctx.l1().read(read)
    threshold = Measure(0, "config updates")
    details: dict[str, object] = {"l1_block": head, "lookback_s": net.l1_contracts.lookback, "updates": updates,
                                  "set_by_initialize": at_initialize}
    if not updates:
        return Verdict(Status.OK, "no SystemConfig update in the lookback", Measure(0, "config updates"),
                       threshold, details)
    text = f"{len(updates)} SystemConfig update(s) in the lookback: " + ", ".join(
        f"{u['update']} in {u['l1_tx']}" for u in updates[-3:])
    return Verdict(Status.FIRING, text, Measure(len(updates), "config updates"), threshold, details,
                   severity=Severity.WARNING)


_MEASURES = {PAUSED: measure_paused, BATCHER_KEY: measure_batcher, UPGRADES: measure_upgrades,
             CONFIG: measure_config}


def measure(ctx: Context, _shared: object, target: str) -> Verdict:
    head = ctx.l1().head().number  # every read of the run pinned to one L1 block
    return _MEASURES[target](ctx, ctx.network, head)


def _missing(net: Network) -> str | None:
    return None if targets(net) else "needs optimism_portal, superchain_config or system_config"


def _threshold(net: Network) -> Measure:
    return Measure(0, UNIT)


CHECK = Check(
    id="l1_contracts",
    title="L1 contracts paused, rotated or upgraded",
    missing=_missing,
    targets=targets,
    threshold=_threshold,
    measure=measure,
    # A pause, a rotated batcher or an unplanned upgrade pages at the first result; a config
    # update warns for as long as it is in the lookback.
    timing=Timing(Hold(1), Hold(2), Hold(5, 900.0)),
    reads_l1=True,
)
