"""The one remedy payload, the same on AWS (Lambda event / SNS message) and GCP (Pub/Sub data).

```json
{"remedy": "topup", "network": "mainnet", "request_id": "ops-2024-0001", "target": "batcher",
 "dry_run": false, "approved_by": "alice", "finding": { ...a Finding... }}
```

`request_id` is the idempotency key: a duplicate delivery or a retry of the same request
never acts twice. A request made from a finding takes its id from the finding's dedup key
and observation time, so the same finding delivered twice (SNS at-least-once, a Pub/Sub
redelivery, the AWS and the GCP watchdog both) is one request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..checks import CheckFacts
from ..findings import Finding, Status

REMEDIES = ("topup", "snapshot", "failover", "restore")
# check → the remedy its firing finding may trigger automatically (policy permitting): each
# check declares it (`Check.remedy`); this is a view of `CHECKS`, not a copy.
TRIGGERS: Mapping[str, str] = CheckFacts(lambda check: check.remedy)


def trigger_of(remedy: str) -> str:
    """The check whose firing finding justifies `remedy` (a restore is a failover strategy)."""
    wanted = "failover" if remedy == "restore" else remedy
    found = [check for check, r in TRIGGERS.items() if r == wanted]
    if len(found) != 1:
        raise BadRequest(f"remedy {remedy!r}: expected one check to trigger it, found {found or 'none'}")
    return found[0]

_ID = re.compile(r"^[A-Za-z0-9._:/@-]{1,200}\Z")


class BadRequest(ValueError):
    """The payload is not a valid remedy request (the message says which field)."""


@dataclass(frozen=True, slots=True)
class RemedyRequest:
    remedy: str
    network: str
    request_id: str
    target: str | None = None
    dry_run: bool = False
    # Who approved it; None means nobody did (a finding-triggered request): only a policy
    # with auto on may then act.
    approved_by: str | None = None
    finding: Finding | None = None
    # Who invoked it, as the adapter authenticated it (never read from the payload: see
    # `from_dict`): `aws-sns:<topic>`, `aws-invoke:<request id>`, `gcp:<identity email>`,
    # `local:<os user>`. Recorded in every audit record beside the self-asserted `approved_by`.
    caller: str | None = None

    def __post_init__(self) -> None:
        if self.remedy not in REMEDIES:
            raise BadRequest(f"remedy: expected one of {', '.join(REMEDIES)}, got {self.remedy!r}")
        if not _ID.match(self.request_id):
            raise BadRequest("request_id: 1-200 characters of letters, digits and ._:/@-")
        if not self.network:
            raise BadRequest("network: required")

    @property
    def approved(self) -> bool:
        return bool(self.approved_by)

    def to_dict(self) -> dict[str, Any]:
        """The payload (what a caller may send): the authenticated `caller` is not part of it."""
        return {"remedy": self.remedy, "network": self.network, "request_id": self.request_id,
                "target": self.target, "dry_run": self.dry_run, "approved_by": self.approved_by,
                "finding": self.finding.to_dict() if self.finding else None}

    @classmethod
    def from_dict(cls, data: Any) -> RemedyRequest:
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object")
        unknown = set(data) - {"remedy", "network", "request_id", "target", "dry_run", "approved_by", "finding"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        finding = None
        if data.get("finding") is not None:
            try:
                finding = Finding.from_dict(data["finding"])
            except ValueError as exc:
                raise BadRequest(f"finding: {exc}") from None
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise BadRequest("dry_run: expected true or false")
        for key in ("remedy", "network", "request_id"):
            if not isinstance(data.get(key), str):
                raise BadRequest(f"{key}: required string")
        target, approved = data.get("target"), data.get("approved_by")
        if target is not None and not isinstance(target, str):
            raise BadRequest("target: expected a string")
        if approved is not None and not isinstance(approved, str):
            raise BadRequest("approved_by: expected a string")
        return cls(remedy=data["remedy"], network=data["network"], request_id=data["request_id"],
                   target=target, dry_run=dry_run, approved_by=approved or None, finding=finding)

    @classmethod
    def from_finding(cls, finding: Finding, dry_run: bool = False) -> RemedyRequest:
        """The request a finding implies. Raises BadRequest for a check with no remedy.

        The finding's status is kept, not judged, here: the remedy refuses anything but
        `firing` (an `unknown` finding never acts), and records that it did.
        """
        remedy = TRIGGERS.get(finding.check)
        if remedy is None:
            raise BadRequest(f"check {finding.check!r} has no remedy")
        digest = hashlib.sha256(f"{finding.dedup_key}|{finding.observed_at}".encode()).hexdigest()[:24]
        return cls(remedy=remedy, network=finding.network, request_id=f"finding:{digest}",
                   target=finding.target, dry_run=dry_run, finding=finding)


def refuses_finding(request: RemedyRequest) -> str | None:
    """Why this request must not act, or None (guard 1: a reason to act, and only a real one).

    A request acts on one of two grounds: a `firing` finding of the remedy's own trigger check
    for the same network and target, or a person's approval (`approved_by`). A bare request
    (neither) never acts, even where the policy allows unattended remedies: unattended means
    "on a firing finding", not "for whoever can invoke the function". A finding that is
    attached must fit the request whatever else holds: an `unknown` finding (the watchdog
    could not tell) or another check's finding is never a reason. A dry run changes nothing
    and needs no ground.
    """
    finding = request.finding
    if finding is None:
        if request.approved or request.dry_run:
            return None
        return (f"a {request.remedy} request needs a firing {trigger_of(request.remedy)} finding or a person's "
                "approval (approved_by): a bare request never acts")
    if finding.status is Status.UNKNOWN:
        return "the finding is unknown (the watchdog could not tell): never a reason to act"
    if finding.status is not Status.FIRING:
        return f"the finding is {finding.status}, not firing"
    if finding.network != request.network:
        return "the finding belongs to another network"
    if finding.check != trigger_of(request.remedy):
        return (f"a {finding.check} finding is no reason for {request.remedy} "
                f"(only {trigger_of(request.remedy)} is)")
    if request.target is not None and finding.target != request.target:
        return f"the finding is about {finding.target!r}, the request about {request.target!r}"
    return None
