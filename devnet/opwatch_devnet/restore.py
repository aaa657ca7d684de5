"""Snapshot and restore on the devnet: the sequencer relaunched from an `anvil_dumpState` archive.

`DevnetLauncher` is the devnet's `SequencerLauncher` (see opwatch.remedies.failover): it starts
a replacement sequencer anvil with `--load-state` on the sequencer's own loopback port. On
the devnet that port IS the endpoint every proxy, follower and actor uses, so there is no
endpoint to switch (production uses an `EndpointSwitch`, e.g. a Route 53 record).
The `kill-sequencer` fault is cleared, since its heal would start an empty chain over the
restored one.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opwatch_devnet.topology import Devnet


class DevnetLauncher:
    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet

    def launch(self, snapshot: Any, provider: Any) -> str:
        archive: bytes = provider.fetch(snapshot)  # re-verified against the checksum written with it
        seq = self.devnet.sequencer
        if seq.alive():
            raise RuntimeError("the old sequencer still runs; refusing to start a second one on its port")
        path = Path(self.devnet.workdir) / "restore-state.json"
        path.write_bytes(gzip.decompress(archive))
        base = [a for a in seq.args if a != "--load-state"]
        if "--load-state" in seq.args:  # a second restore: drop the earlier path too
            i = seq.args.index("--load-state")
            base = seq.args[:i] + seq.args[i + 2:]
        seq.args = [*base, "--load-state", str(path)]
        seq.launch()
        self.devnet.sequencer_control.active = True
        self.devnet.faults.active.pop("kill-sequencer", None)
        self.devnet.write_state()
        return seq.url

