"""The one configuration file: TOML in, typed and validated objects out.

Everything (CLI, Lambda handlers, Cloud Functions, the CDK app and the gcloud plan) loads
the same file through `load_config`. Validation happens once, here, and every problem is
reported with the dotted path of the field that caused it, never as a traceback.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .redact import redact_url

# Every validating pattern is matched whole (re.fullmatch): `$` also matches before a trailing
# newline, and a value with a newline can end a `# comment` line of the rendered gcloud plan.
# One term of a duration; a duration is one or more terms, largest unit first ("1h30m").
_DURATION_TERM = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT_ORDER = ("d", "h", "m", "s", "ms")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_URL = re.compile(r"https?://[^\s/]+[^\s\x00-\x1f\x7f]*")

# GCP resource names, by the providers' documented grammars (narrowed where they allow more than
# a deployment needs): kind -> (pattern, what the error says was expected).
GCP_NAMES: dict[str, tuple[re.Pattern[str], str]] = {
    "project": (re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]"), "a project id (6-30 lower-case letters, digits, '-')"),
    "project_number": (re.compile(r"[0-9]{1,20}"), "the numeric project number as a string"),
    "region": (re.compile(r"[a-z]+-[a-z]+[0-9]{1,2}"), "a region like 'europe-west1'"),
    "zone": (re.compile(r"[a-z]+-[a-z]+[0-9]{1,2}-[a-z]"), "a zone like 'europe-west1-b'"),
    # Bucket names may hold dots (domain-named buckets); '_' and '.' never at either end.
    "bucket": (re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"), "a Cloud Storage bucket name (3-63 lower-case "
                                                                  "letters, digits, '-', '_', '.')"),
    "secret": (re.compile(r"[A-Za-z0-9_-]{1,255}"), "a Secret Manager secret id (letters, digits, '-', '_')"),
    "firestore_database": (re.compile(r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]"),
                           "a Firestore database id ('(default)' or 4-63 lower-case letters, digits, '-')"),
    # Compute Engine and Cloud DNS resource names (RFC 1035 labels): disks, instances, managed zones.
    "resource": (re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"), "a GCP resource name (lower-case letters, "
                                                                  "digits, '-', starting with a letter)"),
}


def gcp_name(kind: str, value: Any) -> str:
    """`value` if it is a whole, valid GCP name of `kind`; else ValueError saying what was expected."""
    pattern, hint = GCP_NAMES[kind]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"expected {hint}, got {value!r}")
    return value


class ConfigError(ValueError):
    """Bad configuration. `problems` lists every problem found, each naming its field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


def parse_duration(text: str) -> float:
    """'30s' -> 30.0, '10m' -> 600.0, '2h' -> 7200.0, '250ms' -> 0.25, '1h30m' -> 5400.0.

    Compound terms go largest unit first, each unit once: '30m1h' or '1h1h' is more likely a
    typo than a meaning, so it is refused rather than summed.
    """
    problem = ValueError(f"expected a duration like '30s', '10m', '2h' or '1h30m', got {text!r}")
    if not isinstance(text, str):
        raise problem
    seconds, position, last_rank = 0.0, 0, -1
    while position < len(text) or position == 0:
        match = _DURATION_TERM.match(text, position)
        if not match or match.end() == position:
            raise problem
        rank = _UNIT_ORDER.index(match.group(2))
        if rank <= last_rank:
            raise problem
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position, last_rank = match.end(), rank
    return seconds


def to_checksum_address(address: str) -> str:
    """EIP-55 checksum encoding (keccak of the lower-case hex)."""
    from Crypto.Hash import keccak  # lazy: only config loading and tests pay for it

    lower = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=lower.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def validate_address(text: str) -> str:
    """Accept an all-lower/all-upper address or a correctly checksummed one; return it checksummed."""
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text):
        raise ValueError(f"expected a 0x-prefixed 20-byte hex address, got {text!r}")
    checksummed = to_checksum_address(text)
    body = text[2:]
    if body != body.lower() and body != body.upper() and text != checksummed:
        raise ValueError(f"bad EIP-55 checksum in {text!r} (did you mean {checksummed}?)")
    return checksummed


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An RPC endpoint. `url` may carry credentials; only `name` is ever shown."""

    url: str
    name: str

    def __repr__(self) -> str:  # never let a credential-bearing URL reach a log via repr
        return f"Endpoint({self.name!r})"


@dataclass(frozen=True, slots=True)
class Thresholds:
    sequencer_max_head_age: float
    # Mean block interval over the recent window may be at most this many block times
    # before the sequencer counts as "producing far below its rate".
    sequencer_max_interval_ratio: float
    batcher_max_safe_lag: float
    batcher_max_submission_age: float
    wallet_min_runway: float
    proposer_max_output_age: float
    rpc_max_lag_blocks: int
    # How far back output_root and dispute_games verify proposals (at most 64 per run).
    output_root_lookback: float = 86400.0
    # A game with a wrong, uncountered root pages once less than this is left on its clock;
    # None: half of the game's own maxClockDuration.
    dispute_clock_min_remaining: float | None = None
    # How far back `withdrawals` re-verifies the portal's proofs each run. A day re-verifies
    # every proof for a day after it lands, days before its proof maturity delay ends.
    withdrawals_lookback: float = 86400.0
    # finality: the finalized L2 head may be at most this old (warning). L1 finality takes
    # ~13 min on Ethereum, plus the batcher's interval: 30 min means finality or batching is stuck.
    finality_max_age: float = 1800.0
    # finality: the sequencing window's runway (L1 blocks before the window of the safe head's
    # L1 origin closes) below this warns; below a quarter of it is critical.
    seq_window_min_blocks: int = 1200
    # tx_health: a wallet's mined nonce may stay still this long while a transaction is pending.
    tx_max_stuck: float = 600.0
    # tx_health: the blob base fee above this many times its recent median warns (target l1) ...
    blob_fee_spike_ratio: float = 10.0
    # ... once it is above this floor too: at a few wei a blob costs nothing, ten times as much neither.
    blob_fee_spike_min_gwei: float = 1.0
    # sequencer_ha: a conductor paused (failover disabled) or stopped longer than this fires;
    # an operator pauses it for maintenance, forgetting to resume leaves the chain without HA.
    conductor_max_paused: float = 900.0
    # rollup_nodes: fewer connected gossip peers than this warns (a replica with no peers
    # falls back to deriving from L1 only, minutes behind the unsafe head).
    min_peers: int = 3


@dataclass(frozen=True, slots=True)
class WalletProfile:
    """How a wallet spends L1 fees, for the runway projection.

    The check uses max(txs_per_hour, the rate it measures from the wallet's nonce), so a
    wallet that spends faster than configured is not given a rosy runway.
    """

    txs_per_hour: float
    gas_per_tx: int
    blobs_per_tx: int
    priority_fee_wei: int
    # The wallet's own fee caps as its service is configured (op-batcher/op-proposer): above
    # them it stops sending, which diagnosis names as the cause. None: not configured.
    max_fee_wei: int | None = None
    max_blob_fee_wei: int | None = None


@dataclass(frozen=True, slots=True)
class L1Contracts:
    """`[networks.NAME.l1_contracts]`: what `l1_contracts` watches for upgrades."""

    # Extra proxies to watch, beyond every contract address the network's config names.
    watch: tuple[str, ...] = ()
    # Addresses an upgrade (or admin/owner change) may point to without paging: a planned
    # upgrade is listed here before it happens.
    allowed_implementations: tuple[str, ...] = ()
    # How far back each run reads upgrade, pause and config events.
    lookback: float = 86400.0


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    l1_rpc: tuple[Endpoint, ...]
    l2_rpc: Endpoint
    l1_chain_id: int
    l2_chain_id: int
    block_time: float
    thresholds: Thresholds
    rollup_rpc: Endpoint | None = None
    rpc_nodes: tuple[Endpoint, ...] = ()
    batcher: str | None = None
    batch_inbox: str | None = None
    proposer: str | None = None
    l2_output_oracle: str | None = None
    dispute_game_factory: str | None = None
    game_type: int | None = None
    # SystemConfig on L1: the chain's own record of the batcher (read before funding it).
    system_config: str | None = None
    wallets: Mapping[str, WalletProfile] = field(default_factory=dict)
    # Execution clients whose state is truth for output roots (config default: l2_rpc alone).
    # Operators point them at nodes the proposer does not run.
    trusted_l2_rpc: tuple[Endpoint, ...] = ()
    # OptimismPortal(2) on L1: its respectedGameType() says which dispute games count.
    optimism_portal: str | None = None
    # SuperchainConfig on L1 (optional): its paused() halts withdrawals of every chain using it.
    superchain_config: str | None = None
    l1_contracts: L1Contracts = field(default_factory=L1Contracts)
    # The fault-proof challenger's L1 address (optional): tx_health watches its transactions.
    challenger: str | None = None
    # sequencer_ha: op-conductor RPCs of the sequencer's HA cluster, and the op-node RPCs of its
    # sequencer candidates (admin_sequencerActive).
    conductors: tuple[Endpoint, ...] = ()
    sequencer_nodes: tuple[Endpoint, ...] = ()
    # rollup_nodes: replica op-nodes' RPCs (optimism_*, opp2p_*), compared with rollup_rpc.
    rollup_nodes: tuple[Endpoint, ...] = ()

    def trusted_nodes(self) -> tuple[Endpoint, ...]:
        return self.trusted_l2_rpc or (self.l2_rpc,)


@dataclass(frozen=True, slots=True)
class RpcSettings:
    timeout: float = 5.0
    retries: int = 2
    # Upper bound on L1 blocks one batch_submission run reads (bounded cost per invocation).
    max_l1_blocks_scanned: int = 600


@dataclass(frozen=True, slots=True)
class Config:
    networks: Mapping[str, Network]
    rpc: RpcSettings
    source: str = ""
    # Optional top-level sections owned by other parts of opwatch (deployment, alerting,
    # remediation), each parsed by its owner's `parse_section` (see SECTION_PARSERS).
    sections: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """The parsed section, or its default when the file has none."""
        if name in self.sections:
            return self.sections[name]
        return _section_parser(name)({}, name, self)

    def network(self, name: str) -> Network:
        try:
            return self.networks[name]
        except KeyError:
            known = ", ".join(sorted(self.networks)) or "none"
            raise ConfigError([f"networks.{name}: no such network (configured: {known})"]) from None


# Section name -> module whose `parse_section(table, where, config) -> object` validates it.
# The parser raises ConfigError (its problems named by dotted path under `where`) or
# returns a typed object; an absent section is parsed from `{}`, so defaults live there too.
# Imported lazily: a check's cold start never pays for deployment or remediation code.
SECTION_PARSERS: dict[str, str] = {
    "aws": "opwatch.deploy.aws",
    "gcp": "opwatch.deploy.gcp",
    "schedules": "opwatch.deploy.schedules",
    "remediation": "opwatch.remedies.policy",
    "alerting": "opwatch.alerting.policy",
    "heartbeat": "opwatch.checks.heartbeat",
}


def _section_parser(name: str) -> Callable[[Mapping[str, Any], str, Config], Any]:
    import importlib

    parser: Callable[[Mapping[str, Any], str, Config], Any] = importlib.import_module(
        SECTION_PARSERS[name]).parse_section
    return parser


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML ({exc})"]) from None
    reader = _Reader()
    config = reader.config(raw, source)
    if reader.problems:
        raise ConfigError(reader.problems)
    assert config is not None
    return config


# --- the schema ------------------------------------------------------------------------

_NETWORK_KEYS = {
    "l1_rpc", "l2_rpc", "rollup_rpc", "rpc_nodes", "l1_chain_id", "l2_chain_id", "block_time",
    "batcher", "batch_inbox", "proposer", "l2_output_oracle", "dispute_game_factory", "game_type",
    "system_config", "thresholds", "wallets", "trusted_l2_rpc", "optimism_portal",
    "superchain_config", "l1_contracts", "conductors", "sequencer_nodes", "rollup_nodes",
    "challenger",
}
_L1_CONTRACTS_KEYS = {"watch", "allowed_implementations", "lookback"}
_THRESHOLD_KEYS = {
    "sequencer_max_head_age", "sequencer_max_interval_ratio", "batcher_max_safe_lag",
    "batcher_max_submission_age", "wallet_min_runway", "proposer_max_output_age", "rpc_max_lag_blocks",
    "output_root_lookback", "dispute_clock_min_remaining", "withdrawals_lookback",
    "conductor_max_paused", "min_peers",
    "finality_max_age", "seq_window_min_blocks", "tx_max_stuck", "blob_fee_spike_ratio", "blob_fee_spike_min_gwei",
}
_WALLET_KEYS = {"txs_per_hour", "gas_per_tx", "blobs_per_tx", "priority_fee_gwei", "max_fee_gwei",
                "max_blob_fee_gwei"}
_WALLET_ROLES = ("batcher", "proposer")
# Defaults: a batcher posting a blob batch about once a minute, a proposer posting about
# once an hour with a dispute-game-sized transaction. Operators should set their own.
_WALLET_DEFAULTS = {
    "batcher": {"txs_per_hour": 60.0, "gas_per_tx": 21_000, "blobs_per_tx": 1, "priority_fee_gwei": 1.0},
    "proposer": {"txs_per_hour": 1.0, "gas_per_tx": 500_000, "blobs_per_tx": 0, "priority_fee_gwei": 1.0},
}


class _Reader:
    """Walks the parsed TOML, collecting every problem with its dotted path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                suggestion = f" (did you mean {hint[0]}?)" if hint else ""
                self.fail(f"{where}.{key}" if where else key, f"unknown key{suggestion}")

    def get(self, table: Mapping[str, Any], key: str, where: str, parse: Callable[[Any], Any],
            required: bool = False, default: Any = None) -> Any:
        if key not in table:
            if required:
                self.fail(f"{where}.{key}", "required but missing")
            return default
        try:
            return parse(table[key])
        except (ValueError, TypeError) as exc:
            self.fail(f"{where}.{key}", str(exc))
            return default

    def config(self, raw: Mapping[str, Any], source: str) -> Config | None:
        self.keys(raw, {"networks", "rpc", *SECTION_PARSERS}, "")
        rpc_raw = raw.get("rpc", {})
        rpc = RpcSettings()
        if isinstance(rpc_raw, Mapping):
            self.keys(rpc_raw, {"timeout", "retries", "max_l1_blocks_scanned"}, "rpc")
            rpc = RpcSettings(
                timeout=self.get(rpc_raw, "timeout", "rpc", _positive_duration, default=rpc.timeout),
                retries=self.get(rpc_raw, "retries", "rpc", _int_range(0, 10), default=rpc.retries),
                max_l1_blocks_scanned=self.get(rpc_raw, "max_l1_blocks_scanned", "rpc",
                                               _int_range(1, 100_000), default=rpc.max_l1_blocks_scanned),
            )
        else:
            self.fail("rpc", "expected a table")
        networks_raw = raw.get("networks")
        if not isinstance(networks_raw, Mapping) or not networks_raw:
            self.fail("networks", "at least one [networks.NAME] table is required")
            return None
        networks: dict[str, Network] = {}
        for name, table in networks_raw.items():
            where = f"networks.{name}"
            if not _NAME.fullmatch(name):
                self.fail(where, "network names are lower-case letters, digits, '-' and '_'")
                continue
            if not isinstance(table, Mapping):
                self.fail(where, "expected a table")
                continue
            network = self.network(name, table, where)
            if network is not None:
                networks[name] = network
        config = Config(networks=networks, rpc=rpc, source=source)
        if self.problems:
            return config
        sections = {}
        for name in SECTION_PARSERS:
            table = raw.get(name, {})
            if not isinstance(table, Mapping):
                self.fail(name, "expected a table")
                continue
            if name not in raw:
                continue
            try:
                sections[name] = _section_parser(name)(table, name, config)
            except ConfigError as exc:
                self.problems.extend(exc.problems)
        return Config(networks=networks, rpc=rpc, source=source, sections=sections)

    def network(self, name: str, t: Mapping[str, Any], where: str) -> Network | None:
        before = len(self.problems)
        self.keys(t, _NETWORK_KEYS, where)
        l1 = self.get(t, "l1_rpc", where, _endpoints, required=True, default=())
        if l1 == ():
            if "l1_rpc" in t:
                self.fail(f"{where}.l1_rpc", "at least one L1 endpoint is required")
        block_time = self.get(t, "block_time", where, _block_time, required=True, default=2.0)
        oracle = self.get(t, "l2_output_oracle", where, validate_address)
        factory = self.get(t, "dispute_game_factory", where, validate_address)
        if oracle and factory:
            self.fail(where, "set l2_output_oracle or dispute_game_factory, not both")
        network = Network(
            name=name,
            l1_rpc=l1,
            l2_rpc=(l2_rpc := self.get(t, "l2_rpc", where, _endpoint, required=True)),
            rollup_rpc=self.get(t, "rollup_rpc", where, _endpoint),
            rpc_nodes=self.get(t, "rpc_nodes", where, _endpoints, default=()),
            l1_chain_id=self.get(t, "l1_chain_id", where, _int_range(1, 2**63), required=True),
            l2_chain_id=self.get(t, "l2_chain_id", where, _int_range(1, 2**63), required=True),
            block_time=block_time,
            batcher=self.get(t, "batcher", where, validate_address),
            batch_inbox=self.get(t, "batch_inbox", where, validate_address),
            proposer=self.get(t, "proposer", where, validate_address),
            l2_output_oracle=oracle,
            dispute_game_factory=factory,
            game_type=self.get(t, "game_type", where, _int_range(0, 2**32 - 1)),
            system_config=self.get(t, "system_config", where, validate_address),
            thresholds=self.thresholds(t.get("thresholds", {}), f"{where}.thresholds", block_time),
            wallets=self.wallets(t.get("wallets", {}), f"{where}.wallets"),
            trusted_l2_rpc=self.get(t, "trusted_l2_rpc", where, _endpoints,
                                    default=(l2_rpc,) if l2_rpc is not None else ()),
            optimism_portal=self.get(t, "optimism_portal", where, validate_address),
            superchain_config=self.get(t, "superchain_config", where, validate_address),
            l1_contracts=self.l1_contracts(t.get("l1_contracts", {}), f"{where}.l1_contracts"),
            conductors=self.get(t, "conductors", where, _endpoints, default=()),
            sequencer_nodes=self.get(t, "sequencer_nodes", where, _endpoints, default=()),
            rollup_nodes=self.get(t, "rollup_nodes", where, _endpoints, default=()),
            challenger=self.get(t, "challenger", where, validate_address),
        )
        return network if len(self.problems) == before else None

    def thresholds(self, t: Any, where: str, block_time: float) -> Thresholds:
        if not isinstance(t, Mapping):
            self.fail(where, "expected a table")
            t = {}
        self.keys(t, _THRESHOLD_KEYS, where)
        d = _positive_duration
        return Thresholds(
            # 15 block times: long enough to ride out a slow block or an L1 reorg pause,
            # short enough to page within a minute on a 2 s chain.
            sequencer_max_head_age=self.get(t, "sequencer_max_head_age", where, d,
                                            default=max(15 * block_time, 10.0)),
            sequencer_max_interval_ratio=self.get(t, "sequencer_max_interval_ratio", where,
                                                  _float_range(1.0, 1000.0), default=2.0),
            batcher_max_safe_lag=self.get(t, "batcher_max_safe_lag", where, d, default=600.0),
            batcher_max_submission_age=self.get(t, "batcher_max_submission_age", where, d, default=600.0),
            wallet_min_runway=self.get(t, "wallet_min_runway", where, d, default=72 * 3600.0),
            proposer_max_output_age=self.get(t, "proposer_max_output_age", where, d, default=7200.0),
            rpc_max_lag_blocks=self.get(t, "rpc_max_lag_blocks", where, _int_range(1, 10**9),
                                        default=max(20, math.ceil(30 / block_time))),
            output_root_lookback=self.get(t, "output_root_lookback", where, d, default=86400.0),
            dispute_clock_min_remaining=self.get(t, "dispute_clock_min_remaining", where, d),
            withdrawals_lookback=self.get(t, "withdrawals_lookback", where, d, default=86400.0),
            conductor_max_paused=self.get(t, "conductor_max_paused", where, d, default=900.0),
            min_peers=self.get(t, "min_peers", where, _int_range(1, 10_000), default=3),
            finality_max_age=self.get(t, "finality_max_age", where, d, default=1800.0),
            seq_window_min_blocks=self.get(t, "seq_window_min_blocks", where, _int_range(1, 10**9), default=1200),
            tx_max_stuck=self.get(t, "tx_max_stuck", where, d, default=600.0),
            blob_fee_spike_ratio=self.get(t, "blob_fee_spike_ratio", where, _float_range(1.0, 1e6), default=10.0),
            blob_fee_spike_min_gwei=self.get(t, "blob_fee_spike_min_gwei", where, _float_range(0.0, 1e6),
                                             default=1.0),
        )

    def l1_contracts(self, t: Any, where: str) -> L1Contracts:
        if not isinstance(t, Mapping):
            self.fail(where, "expected a table")
            t = {}
        self.keys(t, _L1_CONTRACTS_KEYS, where)
        return L1Contracts(
            watch=self.get(t, "watch", where, _addresses, default=()),
            allowed_implementations=self.get(t, "allowed_implementations", where, _addresses, default=()),
            lookback=self.get(t, "lookback", where, _positive_duration, default=86400.0),
        )

    def wallets(self, t: Any, where: str) -> dict[str, WalletProfile]:
        if not isinstance(t, Mapping):
            self.fail(where, "expected a table")
            t = {}
        self.keys(t, set(_WALLET_ROLES), where)
        profiles = {}
        for role in _WALLET_ROLES:
            table = t.get(role, {})
            sub = f"{where}.{role}"
            if not isinstance(table, Mapping):
                self.fail(sub, "expected a table")
                table = {}
            self.keys(table, _WALLET_KEYS, sub)
            dflt = _WALLET_DEFAULTS[role]
            profiles[role] = WalletProfile(
                txs_per_hour=self.get(table, "txs_per_hour", sub, _float_range(0.0, 1e6),
                                      default=dflt["txs_per_hour"]),
                gas_per_tx=self.get(table, "gas_per_tx", sub, _int_range(21_000, 100_000_000),
                                    default=dflt["gas_per_tx"]),
                blobs_per_tx=self.get(table, "blobs_per_tx", sub, _int_range(0, 64), default=dflt["blobs_per_tx"]),
                priority_fee_wei=int(1e9 * self.get(table, "priority_fee_gwei", sub, _float_range(0.0, 1e6),
                                                    default=dflt["priority_fee_gwei"])),
                max_fee_wei=_gwei(self.get(table, "max_fee_gwei", sub, _float_range(0.0, 1e6), default=None)),
                max_blob_fee_wei=_gwei(self.get(table, "max_blob_fee_gwei", sub, _float_range(0.0, 1e6),
                                                default=None)),
            )
        return profiles


# --- field parsers (raise ValueError with a message that reads well after the path) -------

def _gwei(value: float | None) -> int | None:
    return None if value is None else int(value * 1e9)


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be a positive duration, got {value!r}")
    return seconds


def _block_time(value: Any) -> float:
    """A duration, or a bare number of seconds as op-node's rollup config writes it (`block_time = 2`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"must be a positive number of seconds or a duration, got {value!r}")
        return float(value)
    return _positive_duration(value)


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value
    return parse


def _float_range(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        if not low <= float(value) <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return float(value)
    return parse


def _addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of addresses, got {value!r}")
    return tuple(dict.fromkeys(validate_address(v) for v in value))


def _endpoint(value: Any) -> Endpoint:
    if isinstance(value, Mapping):
        unknown = set(value) - {"url", "name"}
        if unknown:
            raise ValueError(f"unknown endpoint keys {sorted(unknown)} (allowed: url, name)")
        url, name = value.get("url"), value.get("name")
    else:
        url, name = value, None
    if not isinstance(url, str) or not _URL.fullmatch(url):
        raise ValueError("expected an http(s) URL" + ("" if not isinstance(url, str) else
                                                       f", got {redact_url(url)!r}"))
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("endpoint name must be a non-empty string")
    return Endpoint(url=url, name=name or redact_url(url))


def _endpoints(value: Any) -> tuple[Endpoint, ...]:
    items = value if isinstance(value, list) else [value]
    endpoints = tuple(_endpoint(item) for item in items)
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ValueError("endpoints must be distinct (give each a distinct name)")
    return endpoints
