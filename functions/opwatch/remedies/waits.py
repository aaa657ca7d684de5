"""How long the remedies wait on a cloud, written once for both clouds.

The cloud adapters (`opwatch.aws`, `opwatch.gcp`) take their defaults from here, and the core
derives from the same figures what a deployed function's timeout and a failover's lease must
exceed (`permissions.longest_wait_s`, `policy`), without importing a cloud module.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Sleep = Callable[[float], None]

# EBS: one snapshot run waits for `pending` to become `completed` before it reports the snapshot
# in progress (a first snapshot of a large volume takes far longer: it is verified later).
EBS_SNAPSHOT_WAIT_S = 120.0
EBS_SNAPSHOT_POLL_S = 15.0
# A restore's volume, its attachment and the instance's start (and, apart, a failed launch's clean-up).
EBS_LAUNCH_S = 300.0
# Route 53 usually reports INSYNC within a minute.
ROUTE53_CHANGE_S = 120.0

# Compute Engine: one operations.wait call returns within about two minutes (Google's figure);
# the snapshot's own deadline, checked between waits, may be overrun by one wait and one poll.
GCE_WAIT_CALL_S = 150.0
GCE_POLL_S = 5.0
GCE_OPERATION_S = 120.0
GCE_SNAPSHOT_LONGEST_S = GCE_OPERATION_S + GCE_WAIT_CALL_S + GCE_POLL_S
# A restore's disk, its attachment and the VM's start (and, apart, the clean-up's own budget).
GCE_LAUNCH_S = 600.0
CLOUD_DNS_CHANGE_S = 120.0

DISK_PROVIDERS = ("ebs", "gce-disk")


def snapshot_wait_s(provider: str) -> float:
    """The longest one snapshot run waits on the cloud for `provider` (beyond single API calls,
    which carry their own timeouts): a function that runs it needs a timeout above this."""
    if provider == "ebs":
        return EBS_SNAPSHOT_WAIT_S
    if provider == "gce-disk":
        return GCE_SNAPSHOT_LONGEST_S
    return 0.0  # s3, gcs: one upload and read-back, no polling


class WaitBudget:
    """Time left for a wait: wall time or the sleeps asked for, whichever is larger, so an
    injected no-op sleep in tests bounds the wait just as real time does."""

    def __init__(self, timeout_s: float, sleep: Sleep) -> None:
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._start = time.monotonic()
        self._slept = 0.0

    def left(self) -> float:
        return self.timeout_s - max(time.monotonic() - self._start, self._slept)

    def sleep(self, interval_s: float) -> None:
        step = max(0.0, min(interval_s, self.left()))
        self._slept += step
        self._sleep(step)

    def until(self, probe: Callable[[], bool], interval_s: float) -> bool:
        """True once probe() holds; False when the budget is spent. probe may raise to stop early."""
        while True:
            if probe():
                return True
            if self.left() <= 0:
                return False
            self.sleep(interval_s)
