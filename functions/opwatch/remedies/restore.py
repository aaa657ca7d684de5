"""The vocabulary of a restore, shared by both clouds: what a launcher and an endpoint switch
raise, and the DNS value that reaches a replacement.

`RestoreStrategy` (failover.py) launches a replacement sequencer from the newest verified
snapshot through a `SequencerLauncher`, waits until it produces blocks, then moves the
network's sequencer endpoint through an `EndpointSwitch`. The implementations live with their
cloud: `opwatch.aws.restore` (EBS volume, Route 53) and `opwatch.gcp.restore` (persistent disk,
Cloud DNS). Wait budgets: `waits.py`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ..redact import redact_url
from .waits import WaitBudget

__all__ = ["EndpointSwitchFailed", "LaunchFailed", "LaunchRefused", "WaitBudget", "fqdn", "record_target"]

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}\Z)(?:{_LABEL}\.)*{_LABEL}\Z")


class EndpointSwitchFailed(Exception):
    """The endpoint record could not be changed, or the change could not be confirmed."""


class LaunchRefused(Exception):
    """A guard refused before any side effect: nothing was created or started."""


class LaunchFailed(Exception):
    """A step after the volume (disk) was created failed; the message says what exists now."""

    def __init__(self, message: str, volume_id: str | None, volume: str, instance_state: str) -> None:
        self.volume_id = volume_id
        self.volume = volume  # "deleted", "attached at /dev/sdf", "available, not attached", ...
        self.instance_state = instance_state
        super().__init__(message)


def fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _host_of(url: str) -> str:
    host = urlsplit(url if "://" in url else "//" + url).hostname
    if not host:
        raise ValueError(f"no host in {redact_url(url)!r}")
    return host.rstrip(".")


def record_target(url: str, record_type: str, record_name: str) -> str:
    """The value a DNS record of `record_type` takes to reach `url` (no trailing dot): an IPv4
    literal for A, a host name for CNAME (never the record itself). ValueError otherwise. Shared
    by the Route 53 and Cloud DNS switches."""
    host = _host_of(url).lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if record_type == "A":
        if not isinstance(ip, ipaddress.IPv4Address):
            raise ValueError(f"an A record needs an IPv4 literal; {redact_url(url)!r} names {host!r}")
        return str(ip)
    if ip is not None or not _HOST_NAME.match(host):
        raise ValueError(f"a CNAME needs a host name; {redact_url(url)!r} names {host!r}")
    if fqdn(host) == fqdn(record_name):
        raise ValueError(f"{record_name} cannot be a CNAME to itself")
    return host
