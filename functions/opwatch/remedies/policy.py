"""`[remediation]`: what each remedy may do on each network, validated once.

```toml
[remediation]
store = "sqlite:.opwatch/remedies.db"     # or "dynamodb:TABLE", "firestore:PROJECT/DATABASE" (caps,
                                          # idempotency, leases, audit; deployed functions use their cloud's)

[remediation.networks.mainnet]
approval = "manual"                       # "manual" (default) or "auto": auto still needs `auto = true` per remedy
runs_on = "aws"                           # where this network's remedy functions are deployed: "aws"
                                          # (default) or "gcp"; never both, so one store holds its caps

[remediation.networks.mainnet.topup]
auto = false                              # act on a firing wallet_runway finding without a person
funder = "0x..."                          # the wallet that pays
signer = "local"                          # "local" (key from `secret`) or "aws-kms" (key stays in KMS)
secret = "env:OPWATCH_FUNDER_KEY"         # local signer: "env:NAME", "aws-secretsmanager:SECRET_ID" or
                                          #   "gcp-secretmanager:projects/P/secrets/S"
kms_key_id = "alias/opwatch-funder"       # aws-kms signer
target_balance_eth = 10.0                 # top up TO this balance
max_per_tx_eth = 5.0
max_per_day_eth = 20.0                    # rolling 24 h, per network, across recipients
max_gas_price_gwei = 100                  # refuse when base fee + tip is above this
priority_fee_gwei = 1.0
recipients = ["batcher", "proposer"]      # roles of this network; nothing else is ever paid
receipt_timeout = "3m"

[remediation.networks.mainnet.snapshot]
auto = false                              # snapshot on a firing snapshot_freshness finding without a person
provider = "s3"                           # a state archive in object storage: "s3" or "gcs";
                                          # a disk snapshot: "ebs" (AWS) or "gce-disk" (GCP)
bucket = "opwatch-snapshots"              # s3, gcs
prefix = "snapshots"
endpoint_url = "http://127.0.0.1:5000"    # optional (a local S3 API)
volume_id = "vol-..."                     # ebs: the sequencer's data volume
project = "my-project"                    # gce-disk (gcs: optional, the bucket's project)
zone = "europe-west1-b"                   # gce-disk
disk = "sequencer-data"                   # gce-disk: the sequencer's data disk
retention = 7                             # newest N kept
max_age = "1d"                            # snapshot_freshness fires beyond this

[remediation.networks.mainnet.failover]
auto = false
strategy = "admin"                        # "admin" (op-node pair), "conductor" or "restore"
active_admin = "http://op-node-a:9545"    # admin RPC of the sequencer's op-node (default: rollup_rpc)
standby_admin = "http://op-node-b:9545"
standby_rpc = "http://op-geth-b:8545"     # the standby's execution client
conductor_rpc = "http://conductor:8547"   # conductor strategy
replacement_instance = "i-..."            # restore: a STOPPED instance that boots the node on a volume made
                                          #   from the snapshot: "i-..." (ebs) or "zones/Z/instances/NAME"
                                          #   (gce-disk, a TERMINATED VM of the snapshot's project)
replacement_device = "/dev/sdf"           #   where its node reads the datadir: a device (ebs, default
                                          #   /dev/sdf) or a disk deviceName (gce-disk, default opwatch-datadir)
replacement_rpc = "http://10.0.2.15:8545" #   the replacement's RPC, watched until it produces blocks
replacement_wait = "5m"                   #   how long it may take to boot and produce (else: aborted)
dns_zone_id = "Z0123456789"               # restore: the sequencer endpoint's record: a Route 53 hosted zone
                                          #   id (runs_on aws) or a Cloud DNS managed zone (runs_on gcp),
dns_record = "sequencer.l2.internal"      #   repointed once the replacement produces blocks
dns_record_type = "CNAME"                 #   or "A" (replacement_rpc's host is then an IPv4 address)
min_observers = 2                         # independent observers that must see the sequencer stalled
stall_after = "30s"                       # how long the head must be still to count as stalled
lease_ttl = "10m"
```

A network without a table gets the safe defaults: manual approval, every `auto` off, and
no top-up (no funder). Problems are reported by dotted path, all at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..config import Config, ConfigError, Endpoint, _endpoint, parse_duration, validate_address
from .waits import CLOUD_DNS_CHANGE_S, EBS_LAUNCH_S, GCE_LAUNCH_S, GCE_WAIT_CALL_S, ROUTE53_CHANGE_S

_WEI_PER_ETH = 10**18
_GWEI = 10**9
APPROVAL_MODES = ("manual", "auto")
CLOUDS = ("aws", "gcp")
# Where a provider or secret lives: a network's remedies run on that cloud only.
NATIVE_CLOUD = {"s3": "aws", "ebs": "aws", "gcs": "gcp", "gce-disk": "gcp", "aws-kms": "aws",
                "aws-secretsmanager": "aws", "gcp-secretmanager": "gcp"}
SIGNERS = ("local", "aws-kms")
SNAPSHOT_PROVIDERS = ("s3", "gcs", "ebs", "gce-disk")
DNS_RECORD_TYPES = ("CNAME", "A")
STRATEGIES = ("admin", "conductor", "restore")
DEFAULT_STORE = "sqlite:.opwatch/remedies.db"
# The longest a restore waits on its cloud, per snapshot provider: the launch's budget, then a
# fresh one for cleaning up after a failed launch (EBS: 300 s; persistent disk: 600 s, and one
# operations.wait call may overrun it by 150 s). Then the DNS switch's wait (120 s in both
# clouds). The figures are the core's (waits.py), which the cloud adapters default to.
RESTORE_LAUNCH_WORST_S = {"ebs": 2 * EBS_LAUNCH_S, "gce-disk": 2 * (GCE_LAUNCH_S + GCE_WAIT_CALL_S)}
RESTORE_DNS_WORST_S = max(ROUTE53_CHANGE_S, CLOUD_DNS_CHANGE_S)
LEASE_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class TopupPolicy:
    funder: str
    signer: str
    target_balance_wei: int
    max_per_tx_wei: int
    max_per_day_wei: int
    max_gas_price_wei: int
    priority_fee_wei: int
    # role -> checksummed address, resolved from the network's own batcher/proposer.
    recipients: Mapping[str, str]
    receipt_timeout_s: float = 180.0
    secret: str | None = None
    kms_key_id: str | None = None
    auto: bool = False


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    provider: str
    auto: bool = False
    bucket: str | None = None
    prefix: str = "snapshots"
    endpoint_url: str | None = None
    volume_id: str | None = None
    project: str | None = None
    zone: str | None = None
    disk: str | None = None
    retention: int = 7
    max_age_s: float = 86400.0


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    strategy: str
    active_admin: Endpoint | None = None
    standby_admin: Endpoint | None = None
    standby_rpc: Endpoint | None = None
    conductor_rpc: Endpoint | None = None
    min_observers: int = 2
    stall_after_s: float = 30.0
    lease_ttl_s: float = 600.0
    auto: bool = False
    replacement_instance: str | None = None
    replacement_device: str | None = None  # default per provider: /dev/sdf (ebs), opwatch-datadir (gce-disk)
    replacement_rpc: Endpoint | None = None
    replacement_wait_s: float = 300.0
    dns_zone_id: str | None = None
    dns_record: str | None = None
    dns_record_type: str = "CNAME"


@dataclass(frozen=True, slots=True)
class NetworkRemedies:
    approval: str = "manual"
    runs_on: str = "aws"
    topup: TopupPolicy | None = None
    snapshot: SnapshotPolicy | None = None
    failover: FailoverPolicy | None = None

    def may_run_unattended(self, remedy: str) -> bool:
        """Auto needs both the network's approval mode and the remedy's own switch."""
        if self.approval != "auto":
            return False
        section = {"topup": self.topup, "snapshot": self.snapshot, "failover": self.failover}.get(remedy)
        return bool(section is not None and getattr(section, "auto", False))


@dataclass(frozen=True, slots=True)
class RemediationPolicy:
    store: str = DEFAULT_STORE
    networks: Mapping[str, NetworkRemedies] = field(default_factory=dict)

    def for_network(self, name: str) -> NetworkRemedies:
        return self.networks.get(name, NetworkRemedies())


_TOP_KEYS = {"store", "networks"}
_NET_KEYS = {"approval", "runs_on", "topup", "snapshot", "failover"}
_TOPUP_KEYS = {"auto", "funder", "signer", "secret", "kms_key_id", "target_balance_eth", "max_per_tx_eth",
               "max_per_day_eth", "max_gas_price_gwei", "priority_fee_gwei", "recipients", "receipt_timeout"}
_SNAPSHOT_KEYS = {"auto", "provider", "bucket", "prefix", "endpoint_url", "volume_id", "project", "zone", "disk",
                  "retention", "max_age"}
_FAILOVER_KEYS = {"auto", "strategy", "active_admin", "standby_admin", "standby_rpc", "conductor_rpc",
                  "min_observers", "stall_after", "lease_ttl", "replacement_instance", "replacement_device",
                  "replacement_rpc", "replacement_wait", "dns_zone_id", "dns_record", "dns_record_type"}


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def table(self, value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.add(where, "expected a table")
            return {}
        for key in value:
            if key not in allowed:
                self.add(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def value(self, table: Mapping[str, Any], key: str, where: str, parse: Any, default: Any = None,
              required: bool = False) -> Any:
        if key not in table:
            if required:
                self.add(f"{where}.{key}", "required but missing")
            return default
        try:
            return parse(table[key])
        except (TypeError, ValueError) as exc:
            self.add(f"{where}.{key}", str(exc))
            return default


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _eth(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 or v > 1e6:
        raise ValueError(f"expected an amount of ETH above 0 (at most 1e6), got {v!r}")
    return int(Decimal(str(v)) * _WEI_PER_ETH)  # exact: 0.1 ETH is 10**17 wei, not a float's guess


def _gwei(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v > 1e6:
        raise ValueError(f"expected gwei between 0 and 1e6, got {v!r}")
    return int(Decimal(str(v)) * _GWEI)


def _choice(options: tuple[str, ...]) -> Any:
    def parse(v: Any) -> str:
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {v!r}")
        return str(v)
    return parse


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError("expected a non-empty string")
    return v


def _secret_ref(v: Any) -> str:
    text = _text(v)
    if not text.startswith(("env:", "aws-secretsmanager:", "gcp-secretmanager:")):
        raise ValueError("expected 'env:NAME', 'aws-secretsmanager:SECRET_ID' or "
                         "'gcp-secretmanager:projects/P/secrets/S' (never the key itself)")
    if text.startswith("gcp-secretmanager:") and not re.fullmatch(
            r"gcp-secretmanager:projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?", text):
        raise ValueError("expected 'gcp-secretmanager:projects/P/secrets/S'")
    return text


def _duration(v: Any) -> float:
    seconds = parse_duration(v)
    if seconds <= 0:
        raise ValueError(f"must be a positive duration, got {v!r}")
    return seconds


def _count(low: int, high: int) -> Any:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"expected an integer between {low} and {high}, got {v!r}")
        return v
    return parse


_EC2_INSTANCE = re.compile(r"i-[0-9a-z]+")
_GCE_INSTANCE = re.compile(r"zones/[a-z]+-[a-z]+[0-9]-[a-z]/instances/[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_GCE_DEVICE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
DEFAULT_DEVICE = {"ebs": "/dev/sdf", "gce-disk": "opwatch-datadir"}


def _instance_id(v: Any) -> str:
    text = _text(v)
    if not (_EC2_INSTANCE.fullmatch(text) or _GCE_INSTANCE.fullmatch(text)):
        raise ValueError(f"expected an EC2 instance id (i-...) or a VM as zones/ZONE/instances/NAME, got {v!r}")
    return text


def _device(v: Any) -> str:
    text = _text(v)
    if not (text.startswith("/dev/") or _GCE_DEVICE.fullmatch(text)):
        raise ValueError(f"expected a device such as /dev/sdf (ebs) or a disk deviceName (gce-disk), got {v!r}")
    return text


def replacement_device(failover: FailoverPolicy, snapshot: SnapshotPolicy) -> str:
    return failover.replacement_device or DEFAULT_DEVICE[snapshot.provider]


def _store(v: Any) -> str:
    text = _text(v)
    if not text.startswith(("sqlite:", "dynamodb:", "firestore:")) or len(text.split(":", 1)[1]) == 0:
        raise ValueError("expected 'sqlite:PATH', 'dynamodb:TABLE' or 'firestore:PROJECT/DATABASE'")
    return text


def parse_section(table: Mapping[str, Any], where: str, config: Config) -> RemediationPolicy:
    p = _Problems()
    top = p.table(table, where, _TOP_KEYS)
    store = p.value(top, "store", where, _store, default=DEFAULT_STORE)
    nets_raw = p.table(top.get("networks", {}), f"{where}.networks", set(config.networks))
    networks: dict[str, NetworkRemedies] = {}
    for name, raw in nets_raw.items():
        if name in config.networks:
            networks[name] = _network(p, raw, f"{where}.networks.{name}", config, name)
    if p.items:
        raise ConfigError(p.items)
    return RemediationPolicy(store=store, networks=networks)


def _network(p: _Problems, raw: Any, where: str, config: Config, name: str) -> NetworkRemedies:
    t = p.table(raw, where, _NET_KEYS)
    approval = p.value(t, "approval", where, _choice(APPROVAL_MODES), default="manual")
    runs_on = p.value(t, "runs_on", where, _choice(CLOUDS), default="aws")
    topup = _topup(p, t["topup"], f"{where}.topup", config, name) if "topup" in t else None
    snapshot = _snapshot(p, t["snapshot"], f"{where}.snapshot") if "snapshot" in t else None
    failover = _failover(p, t["failover"], f"{where}.failover") if "failover" in t else None
    if failover is not None and failover.strategy == "restore":
        if "snapshot" not in t:
            p.add(f"{where}.failover.strategy", "'restore' needs a [snapshot] section to restore from")
        elif snapshot is not None:
            _check_replacement(p, f"{where}.failover", failover, snapshot)
            failover = _restore_lease(p, f"{where}.failover", t["failover"], failover, snapshot, config, name)
    natives: list[tuple[str, str, str]] = []
    if topup is not None:
        natives += [("topup", "signer", topup.signer), ("topup", "secret", (topup.secret or "").partition(":")[0])]
    if snapshot is not None:
        natives.append(("snapshot", "provider", snapshot.provider))
    for what, key, name in natives:
        cloud = NATIVE_CLOUD.get(name)
        if cloud is not None and cloud != runs_on:
            p.add(f"{where}.{what}.{key}", f"{name!r} is {cloud.upper()}'s, but this network's remedies run on "
                                           f"{runs_on} (runs_on)")
    if failover is not None and failover.replacement_instance is not None:
        cloud = "aws" if failover.replacement_instance.startswith("i-") else "gcp"
        if cloud != runs_on:
            p.add(f"{where}.failover.replacement_instance",
                  f"restoring into this instance runs on {cloud}, but this network's remedies run on {runs_on} "
                  "(runs_on)")
    return NetworkRemedies(approval=approval, runs_on=runs_on, topup=topup, snapshot=snapshot, failover=failover)


def _topup(p: _Problems, raw: Any, where: str, config: Config, name: str) -> TopupPolicy | None:
    t = p.table(raw, where, _TOPUP_KEYS)
    before = len(p.items)
    network = config.networks[name]
    signer = p.value(t, "signer", where, _choice(SIGNERS), default="local")
    secret = p.value(t, "secret", where, _secret_ref)
    kms = p.value(t, "kms_key_id", where, _text)
    if signer == "local" and not secret:
        p.add(f"{where}.secret", "required with signer = 'local'")
    if signer == "aws-kms" and not kms:
        p.add(f"{where}.kms_key_id", "required with signer = 'aws-kms'")
    roles = p.value(t, "recipients", where, _roles, default=("batcher", "proposer"))
    recipients: dict[str, str] = {}
    for role in roles:
        address = getattr(network, role)
        if address is None:
            p.add(f"{where}.recipients", f"networks.{name}.{role} is not set, so it cannot be a recipient")
        else:
            recipients[role] = address
    funder = p.value(t, "funder", where, validate_address, required=True)
    if funder and funder in recipients.values():
        p.add(f"{where}.funder", "the funder cannot also be a recipient")
    per_tx = p.value(t, "max_per_tx_eth", where, _eth, required=True, default=0)
    per_day = p.value(t, "max_per_day_eth", where, _eth, required=True, default=0)
    if per_tx and per_day and per_tx > per_day:
        p.add(f"{where}.max_per_tx_eth", "must not exceed max_per_day_eth")
    policy = TopupPolicy(
        auto=p.value(t, "auto", where, _bool, default=False),
        funder=funder or "", signer=signer, secret=secret, kms_key_id=kms,
        target_balance_wei=p.value(t, "target_balance_eth", where, _eth, required=True, default=0),
        max_per_tx_wei=per_tx, max_per_day_wei=per_day,
        max_gas_price_wei=p.value(t, "max_gas_price_gwei", where, _gwei, required=True, default=0),
        priority_fee_wei=p.value(t, "priority_fee_gwei", where, _gwei, default=_GWEI),
        recipients=recipients,
        receipt_timeout_s=p.value(t, "receipt_timeout", where, _duration, default=180.0),
    )
    return policy if len(p.items) == before else None


def restore_worst_case_s(failover: FailoverPolicy, snapshot: SnapshotPolicy, rpc_timeout_s: float,
                         observers: int) -> float:
    """The longest a restore can hold its lease: observing (two reads of every observer,
    `stall_after` apart), fencing the old sequencer (a read, the stop, a read), the launch and its
    clean-up, waiting for the replacement to produce, the DNS switch."""
    observe = failover.stall_after_s + 2 * observers * rpc_timeout_s
    fence = 3 * rpc_timeout_s
    launch = RESTORE_LAUNCH_WORST_S.get(snapshot.provider, 0.0)
    dns = RESTORE_DNS_WORST_S if failover.dns_zone_id is not None else 0.0
    return observe + fence + launch + failover.replacement_wait_s + dns


def _restore_lease(p: _Problems, where: str, raw: Any, failover: FailoverPolicy, snapshot: SnapshotPolicy,
                   config: Config, name: str) -> FailoverPolicy:
    """The failover lease must outlast the worst-case restore: a lease that expires midway lets a
    second trigger start another replacement beside the first. Unset, it is derived from the
    restore's budgets; set too short, it is a configuration error."""
    from dataclasses import replace

    network = config.networks[name]
    worst = restore_worst_case_s(failover, snapshot, config.rpc.timeout, 1 + len(network.rpc_nodes))
    if isinstance(raw, Mapping) and "lease_ttl" in raw:
        if failover.lease_ttl_s <= worst:
            p.add(f"{where}.lease_ttl", f"{failover.lease_ttl_s:g} s is shorter than the worst-case restore "
                                        f"({worst:g} s: observing, fencing, launching and cleaning up on "
                                        f"{snapshot.provider}, replacement_wait, the DNS switch); set at least "
                                        f"{worst + LEASE_MARGIN_S:g} s, or leave it unset to derive it")
        return failover
    return replace(failover, lease_ttl_s=max(failover.lease_ttl_s, worst + LEASE_MARGIN_S))


def _check_replacement(p: _Problems, where: str, failover: FailoverPolicy, snapshot: SnapshotPolicy) -> None:
    """Restoring needs a replacement machine of the snapshot's kind: an EC2 instance for EBS, a
    VM for a persistent disk. Archives (s3, gcs) restore only where a launcher is given (the devnet)."""
    instance, device = failover.replacement_instance, failover.replacement_device
    wants = {"ebs": ("i-...", _EC2_INSTANCE), "gce-disk": ("zones/ZONE/instances/NAME", _GCE_INSTANCE)}
    if snapshot.provider not in wants:
        if instance is not None:
            p.add(f"{where}.replacement_instance", f"restores only from disk snapshots (ebs, gce-disk); this "
                                                    f"network's snapshots are {snapshot.provider!r}")
        return
    form, pattern = wants[snapshot.provider]
    if instance is None:
        p.add(f"{where}.replacement_instance", f"required to restore from {snapshot.provider} snapshots (the "
                                               f"stopped machine that boots the restored disk): {form}")
    elif not pattern.fullmatch(instance):
        p.add(f"{where}.replacement_instance", f"{snapshot.provider} snapshots restore into {form}, got {instance!r}")
    if device is not None and (device.startswith("/dev/") != (snapshot.provider == "ebs")):
        kind = "a /dev/ device" if snapshot.provider == "ebs" else "a disk deviceName"
        p.add(f"{where}.replacement_device", f"expected {kind} for {snapshot.provider}, got {device!r}")


def _roles(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or any(r not in ("batcher", "proposer") for r in v):
        raise ValueError("expected a non-empty list of 'batcher' and/or 'proposer' (the network's own wallets)")
    return tuple(dict.fromkeys(v))


def _snapshot(p: _Problems, raw: Any, where: str) -> SnapshotPolicy | None:
    t = p.table(raw, where, _SNAPSHOT_KEYS)
    before = len(p.items)
    provider = p.value(t, "provider", where, _choice(SNAPSHOT_PROVIDERS), required=True, default="s3")
    bucket = p.value(t, "bucket", where, _text)
    volume = p.value(t, "volume_id", where, _text)
    project = p.value(t, "project", where, _text)
    zone = p.value(t, "zone", where, _text)
    disk = p.value(t, "disk", where, _text)
    if provider in ("s3", "gcs") and not bucket:
        p.add(f"{where}.bucket", f"required with provider = '{provider}'")
    if provider == "ebs" and not volume:
        p.add(f"{where}.volume_id", "required with provider = 'ebs'")
    if provider == "gce-disk":
        for key, value in (("project", project), ("zone", zone), ("disk", disk)):
            if not value:
                p.add(f"{where}.{key}", "required with provider = 'gce-disk'")
    endpoint = p.value(t, "endpoint_url", where, lambda v: _endpoint(v).url)
    if endpoint and provider != "s3":
        p.add(f"{where}.endpoint_url", "only applies to provider = 's3' (a local S3 API)")
    policy = SnapshotPolicy(
        auto=p.value(t, "auto", where, _bool, default=False),
        provider=provider, bucket=bucket, volume_id=volume, endpoint_url=endpoint, project=project, zone=zone,
        disk=disk,
        prefix=p.value(t, "prefix", where, _text, default="snapshots").strip("/"),
        retention=p.value(t, "retention", where, _count(1, 1000), default=7),
        max_age_s=p.value(t, "max_age", where, _duration, default=86400.0),
    )
    return policy if len(p.items) == before else None


def _failover(p: _Problems, raw: Any, where: str) -> FailoverPolicy | None:
    t = p.table(raw, where, _FAILOVER_KEYS)
    before = len(p.items)
    strategy = p.value(t, "strategy", where, _choice(STRATEGIES), required=True, default="admin")
    policy = FailoverPolicy(
        strategy=strategy,
        auto=p.value(t, "auto", where, _bool, default=False),
        active_admin=p.value(t, "active_admin", where, _endpoint),
        standby_admin=p.value(t, "standby_admin", where, _endpoint),
        standby_rpc=p.value(t, "standby_rpc", where, _endpoint),
        conductor_rpc=p.value(t, "conductor_rpc", where, _endpoint),
        min_observers=p.value(t, "min_observers", where, _count(1, 16), default=2),
        stall_after_s=p.value(t, "stall_after", where, _duration, default=30.0),
        lease_ttl_s=p.value(t, "lease_ttl", where, _duration, default=600.0),
        replacement_instance=p.value(t, "replacement_instance", where, _instance_id),
        replacement_device=p.value(t, "replacement_device", where, _device),
        replacement_rpc=p.value(t, "replacement_rpc", where, _endpoint),
        replacement_wait_s=p.value(t, "replacement_wait", where, _duration, default=300.0),
        dns_zone_id=p.value(t, "dns_zone_id", where, _text),
        dns_record=p.value(t, "dns_record", where, _text),
        dns_record_type=p.value(t, "dns_record_type", where, _choice(DNS_RECORD_TYPES), default="CNAME"),
    )
    if strategy != "restore":
        for key in ("replacement_instance", "replacement_device", "replacement_rpc", "replacement_wait",
                    "dns_zone_id", "dns_record", "dns_record_type"):
            if key in t:
                p.add(f"{where}.{key}", "only applies to strategy = 'restore'")
    if policy.replacement_instance is not None and policy.replacement_rpc is None:
        p.add(f"{where}.replacement_rpc", "required with replacement_instance (watched until it produces blocks)")
    if (policy.dns_zone_id is None) != (policy.dns_record is None):
        p.add(f"{where}.{'dns_record' if policy.dns_record is None else 'dns_zone_id'}",
              "dns_zone_id and dns_record go together")
    if strategy == "admin":
        for key in ("standby_admin", "standby_rpc"):
            if getattr(policy, key) is None:
                p.add(f"{where}.{key}", "required with strategy = 'admin'")
    if strategy == "conductor" and policy.conductor_rpc is None:
        p.add(f"{where}.conductor_rpc", "required with strategy = 'conductor'")
    return policy if len(p.items) == before else None
