"""`opwatch drill restore`: the restore-from-snapshot drill on a devnet of its own.

1. start a devnet and a local S3 API (moto server); let the sequencer produce a few blocks;
2. snapshot it through the snapshot remedy (anvil_dumpState → S3, verified);
3. let it produce more blocks (those are what a restore loses), then kill the sequencer;
4. restore through the failover remedy (restore strategy, approved by "drill"): independent
   observers confirm the stall, the newest verified snapshot is fetched and re-verified, a
   replacement sequencer starts from it (`--load-state`);
5. verify block production resumes and every RPC node follows the new head, with the
   snapshot's block hash unchanged.

RTO = seconds from the kill until the replacement has produced a block AND every RPC node
follows it; RPO = blocks lost = the old head at the kill − the snapshot's block.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opwatch_devnet.jsonrpc import RpcClient


@dataclass
class DrillReport:
    snapshot_block: int
    head_at_kill: int
    restored_head: int
    rto_s: float
    rpo_blocks: int
    observers_stalled: list[str]
    rpc_nodes_following: bool
    snapshot_hash_kept: bool
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def remediation_section(s3_endpoint: str, store_path: Path) -> str:
    return f"""
[remediation]
store = "sqlite:{store_path}"
[remediation.networks.devnet]
approval = "manual"
[remediation.networks.devnet.snapshot]
provider = "s3"
bucket = "opwatch-drill"
endpoint_url = "{s3_endpoint}"
retention = 3
max_age = "1h"
[remediation.networks.devnet.failover]
strategy = "restore"
min_observers = 2
stall_after = "2s"
# lease_ttl is left out: derived from the worst-case restore (a shorter one is refused at load)
"""


def run_restore_drill(workdir: Path | None = None, pre_blocks: int = 3, lost_blocks: int = 3,
                      say: Any = print) -> DrillReport:
    import logging

    from opwatch.cli.compose import registry as local_registry
    from opwatch.config import parse_config
    from opwatch.remedies.request import RemedyRequest
    from opwatch.remedies.service import Seams, handle

    from opwatch_devnet.anvil import free_port
    from opwatch_devnet.restore import DevnetLauncher
    from opwatch_devnet.topology import Devnet

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log is noise here
    workdir = Path(workdir or tempfile.mkdtemp(prefix="opwatch-drill-"))

    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    s3_endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="drill", aws_secret_access_key="drill")
        s3.create_bucket(Bucket="opwatch-drill")
        with Devnet.start(workdir / "devnet") as devnet:
            config = parse_config(devnet.config_text() + remediation_section(s3_endpoint, workdir / "remedies.db"),
                                  source="<drill>")
            seams = Seams(registry=local_registry(), s3_client=s3, launcher=DevnetLauncher(devnet))
            seq = RpcClient(devnet.l2_url)
            devnet.wait_for(lambda: seq.block_number() >= pre_blocks, timeout=30)
            say(f"drill: snapshotting the sequencer at block {seq.block_number()}")
            snap = handle(RemedyRequest("snapshot", "devnet", f"drill-snap-{int(time.time())}",
                                        approved_by="drill"), config, seams)
            if snap["status"] != "done":
                raise RuntimeError(f"snapshot failed: {snap['reason']}")
            snap_block = int(snap["snapshot"]["block"])
            snap_hash = seq.block(snap_block)["hash"]  # type: ignore[index]
            devnet.wait_for(lambda: seq.block_number() >= snap_block + lost_blocks, timeout=30)
            head_at_kill = seq.block_number()
            say(f"drill: snapshot at block {snap_block}; killing the sequencer at block {head_at_kill}")
            killed_at = time.monotonic()
            devnet.fault("kill-sequencer")
            outcome = handle(RemedyRequest("restore", "devnet", f"drill-restore-{int(time.time())}",
                                           approved_by="drill"), config, seams)
            if outcome["status"] != "done":
                raise RuntimeError(f"restore {outcome['status']}: {outcome['reason']}")
            restored = seq.block_number()
            nodes = [RpcClient(n.url) for n in devnet.rpc_nodes]

            def following() -> bool:
                head = seq.block_number()
                return all(n.block_number() >= min(head, restored + 1) - 1 and n.block_number() > snap_block
                           for n in nodes)

            ok = bool(devnet.wait_for(following, timeout=30, poll=0.1))
            rto = time.monotonic() - killed_at
            kept = seq.block(snap_block)["hash"] == snap_hash  # type: ignore[index]
            audit = seams_store_audit(config)
            stalled = next((r["details"].get("stalled", []) for r in audit if r["step"] == "observe"), [])
            report = DrillReport(snapshot_block=snap_block, head_at_kill=head_at_kill,
                                 restored_head=seq.block_number(), rto_s=round(rto, 2),
                                 rpo_blocks=head_at_kill - snap_block, observers_stalled=stalled,
                                 rpc_nodes_following=ok, snapshot_hash_kept=kept, outcome=outcome["status"])
            return report
    finally:
        moto.stop()


def seams_store_audit(config: Any) -> list[dict[str, Any]]:
    from opwatch.cli.compose import registry as local_registry
    from opwatch.remedies.store import open_store

    return open_store(config.section("remediation").store, local_registry()).audit(200)
