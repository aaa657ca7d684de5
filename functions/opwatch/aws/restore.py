"""The AWS pieces of a restore: start a replacement sequencer from an EBS snapshot, repoint DNS.

`RestoreStrategy` (failover.py) launches a replacement from the newest verified snapshot
through a `SequencerLauncher`, waits until it produces blocks, then moves the network's
sequencer endpoint through an `EndpointSwitch`. These are the AWS implementations:

- `EbsVolumeLauncher`: the replacement is a pre-built EC2 instance, kept STOPPED, whose node
  reads its datadir from one device. `launch` refuses (`LaunchRefused`, nothing changed) unless
  the instance is stopped (a running one might already sequence: never two), nothing is
  attached at that device, and the snapshot is a verified EBS snapshot (`snap-...`). Then:
  a gp3 volume from the snapshot in the instance's availability zone (tagged
  `opwatch:restored-from`, `opwatch:network`, `opwatch:block`), attached at the device, the
  instance started and seen `running`; it returns the configured RPC URL. A failure after the
  volume exists cleans up only what is safe (detach and delete a volume no node started with;
  never stop an instance) and raises `LaunchFailed`, whose message says what exists now.
- `Route53Endpoint`: one simple-routing record (CNAME to a host name, or A to an IPv4
  literal) UPSERTed to the replacement's host, waited on until Route 53 reports the change
  `INSYNC`, then read back. DNS carries no port or path: the replacement must serve on the
  port and path clients already use.

Every wait polls `describe_*` / `get_change` with an injectable `sleep` (not boto3 waiters),
bounded by `timeout_s` of wall time or of requested sleeps, whichever is reached first.
botocore errors never leave this module raw: they become the module's exceptions with a
short reason.

IAM actions (`ROUTE53_ENDPOINT_ACTIONS`, `EBS_LAUNCHER_ACTIONS`): route53:ChangeResourceRecordSets,
route53:GetChange, route53:ListResourceRecordSets; ec2:DescribeInstances, ec2:DescribeVolumes,
ec2:CreateVolume, ec2:AttachVolume, ec2:DetachVolume, ec2:DeleteVolume, ec2:StartInstances,
ec2:CreateTags (tags given at CreateVolume). Narrow them to the zone, the instance and
volumes tagged `opwatch:restored-from` in the deployment.

The operator's part: building the stopped replacement instance (AMI, op-geth/op-node and
their config reading the datadir from the device, mounting it at boot, security groups), its
sequencer keys (the p2p and signing keys the node needs to sequence), and retiring the old
sequencer's volume afterwards.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..remedies.restore import EndpointSwitchFailed, LaunchFailed, LaunchRefused, fqdn, record_target
from ..remedies.snapshot import SnapshotProvider, SnapshotRecord
from ..remedies.waits import EBS_LAUNCH_S, ROUTE53_CHANGE_S, WaitBudget
from .client import AwsError, AwsService, aws_call

Sleep = Callable[[float], None]

ROUTE53_ENDPOINT_ACTIONS = ("route53:ChangeResourceRecordSets", "route53:GetChange",
                            "route53:ListResourceRecordSets")
EBS_LAUNCHER_ACTIONS = ("ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:CreateVolume", "ec2:AttachVolume",
                        "ec2:DetachVolume", "ec2:DeleteVolume", "ec2:StartInstances", "ec2:CreateTags")

# Route 53 usually reports INSYNC within a minute; EC2 state changes take seconds to minutes.
ROUTE53_POLL_S = 2.0
EC2_POLL_S = 3.0

_SNAPSHOT_ID = re.compile(r"^snap-[0-9a-f]{8,17}\Z")


class _StepFailed(Exception):
    pass


_AwsError = AwsError
_aws = aws_call


class Route53Endpoint(AwsService):
    """The network's sequencer endpoint as one simple-routing Route 53 record (CNAME or A)."""

    service = "route53"

    def __init__(self, zone_id: str, record_name: str, record_type: str = "CNAME", ttl: int = 60,
                 client: Any = None, timeout_s: float = ROUTE53_CHANGE_S, sleep: Sleep = time.sleep) -> None:
        if record_type not in ("CNAME", "A"):
            raise ValueError(f"record_type must be CNAME or A, not {record_type!r}")
        self.zone_id = zone_id
        self.record_name = record_name
        self.record_type = record_type
        self.ttl = ttl
        self._client = client
        self.timeout_s = timeout_s
        self.sleep = sleep

    def _call(self, operation: str, fn: Callable[[], Any]) -> Any:
        try:
            return _aws(operation, fn)
        except _AwsError as exc:
            raise EndpointSwitchFailed(f"{self.record_name} {self.record_type} in zone {self.zone_id}: {exc}") from None

    def target_of(self, url: str) -> str:
        """The record value for `url`; ValueError if this record type cannot hold it."""
        return record_target(url, self.record_type, self.record_name)

    def _values(self) -> list[str] | None:
        page = self._call("ListResourceRecordSets", lambda: self.client.list_resource_record_sets(
            HostedZoneId=self.zone_id, StartRecordName=self.record_name, StartRecordType=self.record_type,
            MaxItems="1"))
        # The listing starts at (name, type) or the next record after it: check it is ours.
        sets = [s for s in page.get("ResourceRecordSets", [])
                if fqdn(s.get("Name", "")) == fqdn(self.record_name) and s.get("Type") == self.record_type]
        if not sets:
            return None
        record = sets[0]
        if "AliasTarget" in record:
            return [str(record["AliasTarget"].get("DNSName", "")).rstrip(".")]
        return [str(r["Value"]).rstrip(".") for r in record.get("ResourceRecords", [])]

    def current(self) -> str | None:
        """The record's value (a host name or an IPv4 literal), or None if there is no such record."""
        values = self._values()
        return values[0] if values else None

    def _matches(self, values: list[str] | None, target: str) -> bool:
        if values is None or len(values) != 1:
            return False
        return values[0].lower() == target if self.record_type == "CNAME" else values[0] == target

    def point(self, url: str) -> None:
        """UPSERT the record to `url`'s host, wait for INSYNC, read it back; EndpointSwitchFailed otherwise."""
        target = self.target_of(url)  # before any change: a bad URL leaves the record as it is
        change = self._call("ChangeResourceRecordSets", lambda: self.client.change_resource_record_sets(
            HostedZoneId=self.zone_id, ChangeBatch={
                "Comment": f"opwatch restore: point {self.record_name} at {target}"[:256],
                "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": self.record_name, "Type": self.record_type, "TTL": self.ttl,
                    "ResourceRecords": [{"Value": target}]}}]}))
        change_id = str(change["ChangeInfo"]["Id"])
        status = str(change["ChangeInfo"].get("Status", ""))

        def in_sync() -> bool:
            nonlocal status
            if status != "INSYNC":
                status = str(self._call("GetChange", lambda: self.client.get_change(Id=change_id))
                             ["ChangeInfo"]["Status"])
            return status == "INSYNC"

        # INSYNC: every Route 53 authoritative server answers the new value. Resolvers may still
        # serve the old one for up to the old record's TTL, hence a short TTL on this record.
        if not WaitBudget(self.timeout_s, self.sleep).until(in_sync, ROUTE53_POLL_S):
            raise EndpointSwitchFailed(
                f"Route 53 change {change_id} ({self.record_name} {self.record_type} -> {target}) is still "
                f"{status or 'not INSYNC'} after {self.timeout_s:g} s; the record may already be changed: "
                "check it before retrying")
        values = self._values()
        if not self._matches(values, target):
            raise EndpointSwitchFailed(
                f"after change {change_id} (INSYNC) {self.record_name} {self.record_type} reads {values!r}, "
                f"not {target!r}")


def _device_key(device: str) -> str:
    # /dev/sdf and /dev/xvdf name the same attachment point on Xen instances: compare them as one.
    name = device.removeprefix("/dev/")
    return "sd" + name[3:] if name.startswith("xvd") else name


class EbsVolumeLauncher(AwsService):
    """A replacement sequencer from an EBS snapshot on a pre-built, stopped EC2 instance."""

    service = "ec2"

    def __init__(self, instance_id: str, device: str, rpc_url: str, client: Any = None,
                 timeout_s: float = EBS_LAUNCH_S, sleep: Sleep = time.sleep) -> None:
        self.instance_id = instance_id
        self.device = device
        self.rpc_url = rpc_url
        self._client = client
        self.timeout_s = timeout_s
        self.sleep = sleep

    def _instance(self) -> dict[str, Any]:
        page = _aws("DescribeInstances", lambda: self.client.describe_instances(InstanceIds=[self.instance_id]))
        found = [i for r in page.get("Reservations", []) for i in r.get("Instances", [])]
        if not found:
            raise _AwsError(f"DescribeInstances: {self.instance_id} not found", True)
        return found[0]  # type: ignore[no-any-return]

    def _state(self) -> str:
        return str(self._instance()["State"]["Name"])

    def _volume(self, volume_id: str) -> dict[str, Any] | None:
        try:
            page = _aws("DescribeVolumes", lambda: self.client.describe_volumes(VolumeIds=[volume_id]))
        except _AwsError as exc:
            if exc.code == "InvalidVolume.NotFound":
                return None
            raise
        volumes = page.get("Volumes", [])
        return volumes[0] if volumes else None

    def _attachment(self, volume: dict[str, Any] | None) -> dict[str, Any] | None:
        for a in (volume or {}).get("Attachments", []):
            if a.get("InstanceId") == self.instance_id:
                return a  # type: ignore[no-any-return]
        return None

    def _preflight(self, snapshot: SnapshotRecord) -> dict[str, Any]:
        if not _SNAPSHOT_ID.match(snapshot.id):
            raise LaunchRefused(f"{snapshot.id!r} is not an EBS snapshot id (snap-...): this launcher restores "
                                "EBS snapshots only")
        if not snapshot.verified:
            raise LaunchRefused(f"snapshot {snapshot.id} is not verified: never restore from it")
        try:
            instance = self._instance()
            state = str(instance["State"]["Name"])
            if state != "stopped":
                raise LaunchRefused(f"instance {self.instance_id} is {state}, not stopped: a running replacement "
                                    "might already sequence, and two sequencers must never run")
            # Attachments in progress show on the volumes before the instance lists them.
            attached = _aws("DescribeVolumes", lambda: self.client.describe_volumes(
                Filters=[{"Name": "attachment.instance-id", "Values": [self.instance_id]}]))
        except _AwsError as exc:
            raise LaunchRefused(f"cannot read instance {self.instance_id}: {exc}") from None
        devices = {m.get("DeviceName", ""): m.get("Ebs", {}).get("VolumeId", "?")
                   for m in instance.get("BlockDeviceMappings", [])}
        devices |= {a.get("Device", ""): v.get("VolumeId", "?") for v in attached.get("Volumes", [])
                    for a in v.get("Attachments", []) if a.get("InstanceId") == self.instance_id}
        for device, volume_id in devices.items():
            if _device_key(device) == _device_key(self.device):
                raise LaunchRefused(f"{self.device} on {self.instance_id} already holds {volume_id}: detach it "
                                    "(it may be a previous restore) before launching another")
        return instance

    def launch(self, snapshot: SnapshotRecord, provider: SnapshotProvider) -> str:
        """Volume from `snapshot.id`, attached at the device, instance started; returns `rpc_url`.
        `provider` is unused: a volume-based launcher needs only the snapshot id."""
        instance = self._preflight(snapshot)
        zone = instance["Placement"]["AvailabilityZone"]
        tags = [{"Key": "opwatch:restored-from", "Value": snapshot.id},
                {"Key": "opwatch:network", "Value": snapshot.network},
                {"Key": "opwatch:block", "Value": str(snapshot.block)}]
        # A fresh client token per launch: botocore's own retries of this call create one volume.
        token = f"opwatch-{uuid.uuid4()}"
        try:
            created = _aws("CreateVolume", lambda: self.client.create_volume(
                AvailabilityZone=zone, SnapshotId=snapshot.id, VolumeType="gp3", ClientToken=token,
                TagSpecifications=[{"ResourceType": "volume", "Tags": tags}]))
        except _AwsError as exc:
            maybe = "" if exc.answered else (f" (the call may have created one: look for a volume tagged "
                                             f"opwatch:restored-from={snapshot.id})")
            raise LaunchFailed(f"{exc}; no volume was created{maybe}; instance {self.instance_id} stopped",
                               None, "none" if exc.answered else "unknown", "stopped") from None
        volume_id = str(created["VolumeId"])
        start_requested = False
        try:
            budget = WaitBudget(self.timeout_s, self.sleep)
            if not budget.until(lambda: self._volume_state(volume_id) == "available", EC2_POLL_S):
                raise _StepFailed(f"volume {volume_id} not available after {self.timeout_s:g} s")
            _aws("AttachVolume", lambda: self.client.attach_volume(
                VolumeId=volume_id, InstanceId=self.instance_id, Device=self.device))
            if not budget.until(lambda: self._attached(volume_id), EC2_POLL_S):
                raise _StepFailed(f"volume {volume_id} not attached at {self.device} after {self.timeout_s:g} s")
            # Re-read just before starting: someone else starting it meanwhile must not become our start.
            state = self._state()
            if state != "stopped":
                raise _StepFailed(f"instance {self.instance_id} became {state} while the volume attached")
            start_requested = True
            try:
                _aws("StartInstances", lambda: self.client.start_instances(InstanceIds=[self.instance_id]))
            except _AwsError as exc:
                start_requested = not exc.answered  # an error answer means it did not start
                raise
            if not budget.until(self._running, EC2_POLL_S):
                raise _StepFailed(f"instance {self.instance_id} not running after {self.timeout_s:g} s")
        except (_AwsError, _StepFailed) as exc:
            raise self._failed(str(exc), volume_id, start_requested) from None
        return self.rpc_url

    def _volume_state(self, volume_id: str) -> str:
        volume = self._volume(volume_id)
        state = str(volume["State"]) if volume else "missing"
        if state in ("error", "missing", "deleting", "deleted"):
            raise _StepFailed(f"volume {volume_id} is {state}")
        return state

    def _attached(self, volume_id: str) -> bool:
        volume = self._volume(volume_id)
        attachment = self._attachment(volume)
        return bool(volume and volume.get("State") == "in-use" and attachment
                    and attachment.get("State") == "attached")

    def _running(self) -> bool:
        state = self._state()
        if state in ("stopping", "shutting-down", "terminated"):
            raise _StepFailed(f"instance {self.instance_id} went {state} instead of running")
        return state == "running"

    def _describe(self, volume_id: str) -> str:
        try:
            volume = self._volume(volume_id)
        except _AwsError:
            return "state unknown"
        if volume is None:
            return "deleted"
        attachment = self._attachment(volume)
        if attachment:
            return f"{attachment.get('State', 'attached')} at {attachment.get('Device', self.device)}"
        return f"{volume.get('State', '?')}, not attached"

    def _failed(self, reason: str, volume_id: str, start_requested: bool) -> LaunchFailed:
        try:
            state = self._state()
        except _AwsError:
            state = "unknown"
        if start_requested or state != "stopped":
            # The node may be starting with this volume (or someone else runs the instance): touching
            # either could take down a sequencer. Leave both, and say so.
            volume = self._describe(volume_id)
            return LaunchFailed(f"{reason}; left as is: volume {volume_id} {volume}, instance {self.instance_id} "
                                f"{state}: check whether it sequences before anything else",
                                volume_id, volume, state)
        cleanup = self._clean_up(volume_id)
        volume = self._describe(volume_id)
        return LaunchFailed(f"{reason}; {cleanup}; now: volume {volume_id} {volume}, instance {self.instance_id} "
                            f"{state}", volume_id, volume, state)

    def _clean_up(self, volume_id: str) -> str:
        """Detach (if attached) and delete a volume the stopped instance never ran with."""
        try:
            attachment = self._attachment(self._volume(volume_id))
            if attachment:
                # InstanceId and Device given explicitly (optional for AWS, and moto 5 needs them).
                _aws("DetachVolume", lambda: self.client.detach_volume(
                    VolumeId=volume_id, InstanceId=self.instance_id, Device=attachment.get("Device", self.device)))
                if not WaitBudget(self.timeout_s, self.sleep).until(
                        lambda: self._volume_state(volume_id) == "available", EC2_POLL_S):
                    return "clean-up: the volume did not detach in time, not deleted"
            _aws("DeleteVolume", lambda: self.client.delete_volume(VolumeId=volume_id))
        except (_AwsError, _StepFailed) as exc:
            return f"clean-up failed ({exc})"
        return "cleaned up"
