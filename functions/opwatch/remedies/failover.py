"""Failover: move sequencing to a standby, or restore a sequencer from the newest snapshot.

One interface (`FailoverStrategy`), three strategies:

- `AdminPairStrategy`: an active/standby op-node pair via the admin RPC. `admin_stopSequencer`
  on the old one returns its unsafe head hash; `admin_startSequencer(hash)` on the standby
  starts it only if its own unsafe head is that hash (op-node enforces it, we check first).
- `ConductorStrategy`: op-conductor's raft leadership transfer (`conductor_transferLeader`),
  confirmed by `conductor_leader` afterwards.
- `RestoreStrategy`: start a replacement sequencer from the newest verified snapshot (a
  `SequencerLauncher`: on the devnet an anvil `--load-state`, on AWS a stopped instance booted
  with a volume made from an EBS snapshot), wait until it produces blocks, then repoint the
  sequencer endpoint (an `EndpointSwitch`: a Route 53 record), verified by reading it back.

`Failover.run` holds the guards, in order, and refuses (with an audit record) at the first
that fails:
1. only a `firing` finding or an approved request acts; unattended only if policy allows;
2. one failover per network at a time: a lease in the state store (two triggers, one runs);
3. the failure is confirmed by independent observers: the sequencer endpoint and the RPC
   nodes, read twice `stall_after` apart; ANY observer seeing the head advance refuses
   (the old sequencer still produces), and at least `min_observers` must see it stalled.
   One failed RPC call is never enough;
4. the strategy's own preflight: never two active sequencers, standby healthy and at the
   old sequencer's head.
A failure after the first side effect rolls back what it can (restart the old sequencer at
its head), records the exact state reached, and pages: never a half-switched network
without a person knowing.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..chain.errors import ChainError
from ..chain.rpc import RpcClient
from ..redact import redact_text, redact_url, redact_value
from .audit import AuditLog
from .policy import NetworkRemedies
from .request import RemedyRequest, refuses_finding
from .store import RemedyStore

Pager = Callable[[str, dict[str, Any]], None]


class FailoverRefused(Exception):
    """A guard refused before any side effect."""


class FailoverAborted(Exception):
    """A step failed after a side effect; `state` says where the network was left."""

    def __init__(self, message: str, state: str) -> None:
        self.state = state
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Observer:
    name: str
    client: RpcClient
    # The sequencer's own endpoint. Unreachable is no vote for "stalled", there or anywhere: the
    # functions run outside the sequencer's network, so "cannot reach it" is as likely a broken
    # path as a dead node, and a dead-looking sequencer that still sequences is a split brain.
    is_sequencer: bool = False


@dataclass(frozen=True, slots=True)
class Confirmation:
    stalled: list[str]
    advancing: list[str]
    abstained: list[str]
    max_head: int | None
    # Observers that are the sequencer's own endpoint: a stall seen only there is not independent.
    sequencer: tuple[str, ...] = ()

    def refusal(self, min_observers: int) -> str | None:
        if self.advancing:
            return f"the sequencer still produces blocks (seen advancing by {', '.join(self.advancing)})"
        if len(self.stalled) < min_observers:
            return (f"only {len(self.stalled)} observer(s) confirm the stall ({', '.join(self.stalled) or 'none'}); "
                    f"{min_observers} independent ones are required (an unreachable endpoint is no vote)")
        if self.stalled and all(name in self.sequencer for name in self.stalled):
            return (f"only the sequencer's own endpoint ({', '.join(self.stalled)}) saw the stall; at least one "
                    "other observer (an RPC node) must see it too")
        return None


def observe_stall(observers: Sequence[Observer], window_s: float,
                  sleep: Callable[[float], None] = time.sleep) -> Confirmation:
    """Read every observer's head twice, `window_s` apart."""
    def head(o: Observer) -> int | None:
        try:
            return int(o.client.call("eth_blockNumber"), 16)
        except (ChainError, ValueError, TypeError):
            return None

    first = [head(o) for o in observers]
    sleep(window_s)
    second = [head(o) for o in observers]
    stalled: list[str] = []
    advancing: list[str] = []
    abstained: list[str] = []
    for o, a, b in zip(observers, first, second, strict=True):
        if a is not None and b is not None:
            (advancing if b > a else stalled).append(o.name)
        else:
            abstained.append(o.name)
    heads = [h for h in [*first, *second] if h is not None]
    return Confirmation(stalled, advancing, abstained, max(heads) if heads else None,
                        tuple(o.name for o in observers if o.is_sequencer))


class FailoverStrategy(ABC):
    name = "strategy"
    # Observers that must see the stall whatever the policy says (the policy may ask for more).
    min_observers = 1

    @abstractmethod
    def preflight(self, confirmation: Confirmation) -> None:
        """Raise FailoverRefused if it must not start. No side effects."""

    @abstractmethod
    def execute(self, step: Callable[..., None]) -> dict[str, Any]:
        """Do it; `step(name, outcome, **details)` audits each step. Raise FailoverAborted
        (after rolling back what it can) if a step after the first side effect fails."""


def _call(client: RpcClient, method: str, *params: Any) -> Any:
    return client.call(method, *params)


def read_active(admin: RpcClient) -> bool | None:
    """`admin_sequencerActive`, or None when it cannot be read (or is not a bool)."""
    try:
        active = admin.call("admin_sequencerActive")
    except ChainError:
        return None
    return active if isinstance(active, bool) else None


def unsafe_head_hash(admin: RpcClient) -> str | None:
    """The op-node's unsafe head hash (`optimism_syncStatus`): after a stop it is the hash the
    stop returned, so a lost answer to `admin_stopSequencer` loses nothing."""
    try:
        status = admin.call("optimism_syncStatus")
        head = status["unsafe_l2"]["hash"]
    except (ChainError, KeyError, TypeError):
        return None
    return head if isinstance(head, str) and head.startswith("0x") and len(head) == 66 else None


class AdminPairStrategy(FailoverStrategy):
    """Mutating admin calls are sent once (`call_once`): a timeout after op-node acted, retried,
    answers "not running"/"already running" and would turn a done switch into a wrong roll-back
    or "both stopped". After any failure of one, `admin_sequencerActive` is read back and the
    next step is decided from what is true."""

    name = "admin"

    def __init__(self, active_admin: RpcClient, standby_admin: RpcClient, standby_rpc: RpcClient,
                 catch_up_s: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.active_admin = active_admin
        self.standby_admin = standby_admin
        self.standby_rpc = standby_rpc
        self.catch_up_s = catch_up_s
        self.sleep = sleep

    def _standby_head(self) -> tuple[int, str]:
        block = self.standby_rpc.call("eth_getBlockByNumber", "latest", False)
        return int(block["number"], 16), str(block["hash"])

    def preflight(self, confirmation: Confirmation) -> None:
        try:
            if _call(self.standby_admin, "admin_sequencerActive") is not False:
                raise FailoverRefused("the standby already sequences: a failover now would make two active")
            number, _ = self._standby_head()
        except ChainError as exc:
            raise FailoverRefused(f"the standby is not healthy: {exc}") from None
        if confirmation.max_head is not None and number < confirmation.max_head:
            raise FailoverRefused(f"the standby is behind: its head {number} < {confirmation.max_head} seen by "
                                  "the observers")

    def execute(self, step: Callable[..., None]) -> dict[str, Any]:
        try:
            was_active = _call(self.active_admin, "admin_sequencerActive")
        except ChainError as exc:
            raise FailoverRefused(f"cannot ask the old op-node whether it sequences ({exc}); stop it by hand "
                                  "or use the restore strategy") from None
        if was_active is not True:
            raise FailoverRefused("the old op-node does not report an active sequencer; nothing to move")
        head_hash = self._stop_old(step)
        # From here the old sequencer is stopped: any failure restarts it at its own head.
        try:
            deadline = time.monotonic() + self.catch_up_s
            while self._standby_head()[1].lower() != head_hash.lower():
                if time.monotonic() > deadline:
                    raise FailoverAborted(f"the standby did not reach {head_hash}", "old stopped")
                self.sleep(0.2)
            step("standby-at-head", "ok", unsafe_head=head_hash)
            if read_active(self.active_admin) is not False or read_active(self.standby_admin) is not False:
                raise FailoverAborted("a sequencer became active (or unreadable) during the switch", "unknown")
        except (ChainError, FailoverAborted, ValueError, TypeError, KeyError) as exc:
            said, state = self._roll_back(head_hash, step)
            raise FailoverAborted(f"switch failed ({exc}); {said}", state) from None
        try:
            self.standby_admin.call_once("admin_startSequencer", head_hash)
        except ChainError as exc:
            standby = read_active(self.standby_admin)
            if standby is None:
                raise FailoverAborted(
                    f"admin_startSequencer on the standby failed ({exc}) and the standby cannot be read: it may "
                    f"or may not sequence; the old sequencer stays stopped at {head_hash} (restarting it could "
                    "make two)", "unknown: old stopped; the standby may be active: check it before starting "
                    "either") from None
            if standby is False:
                said, state = self._roll_back(head_hash, step)
                raise FailoverAborted(f"admin_startSequencer on the standby failed ({exc}); {said}", state) from None
            step("start-standby", "ok", unsafe_head=head_hash,
                 note=f"the answer was lost ({exc}); admin_sequencerActive on the standby reads true")
            return {"unsafe_head": head_hash}
        step("start-standby", "ok", unsafe_head=head_hash)
        return {"unsafe_head": head_hash}

    def _stop_old(self, step: Callable[..., None]) -> str:
        """Stop the old sequencer once; its unsafe head hash. FailoverRefused if it still
        sequences (nothing changed), FailoverAborted if what happened cannot be known."""
        try:
            head_hash = str(self.active_admin.call_once("admin_stopSequencer"))
        except ChainError as exc:
            active = read_active(self.active_admin)
            if active is True:
                raise FailoverRefused(f"admin_stopSequencer failed ({exc}) and the old op-node still "
                                      "sequences: nothing changed") from None
            if active is None:
                raise FailoverAborted(f"admin_stopSequencer failed ({exc}) and the old op-node cannot be read",
                                      "unknown: the old sequencer may be stopped; the standby was not "
                                      "started") from None
            found = unsafe_head_hash(self.active_admin)
            if found is None:
                raise FailoverAborted(f"the old sequencer stopped (its answer was lost: {exc}) and its unsafe "
                                      "head cannot be read (optimism_syncStatus)",
                                      "both stopped: the old op-node is stopped; restart it with "
                                      "admin_startSequencer(<its unsafe head>)") from None
            step("stop-old", "ok", unsafe_head=found,
                 note=f"the answer was lost ({exc}); admin_sequencerActive reads false")
            return found
        step("stop-old", "ok", unsafe_head=head_hash)
        return head_hash

    def _roll_back(self, head_hash: str, step: Callable[..., None]) -> tuple[str, str]:
        """Restart the old sequencer at its head, unless the standby sequences (or cannot be read).
        Returns a sentence for the reason and the state that is true afterwards."""
        standby = read_active(self.standby_admin)
        if standby is not False:
            what = "sequences" if standby else "cannot be read"
            step("roll-back", "skipped", reason=f"the standby {what}")
            return (f"not rolled back: the standby {what}",
                    f"old stopped at {head_hash}; the standby {what}: not rolled back (it could make two active)")
        error = ""
        try:
            self.active_admin.call_once("admin_startSequencer", head_hash)
        except ChainError as exc:
            error = str(exc)
        old = read_active(self.active_admin)  # whatever the answer said, this is what is true
        if old is True:
            step("roll-back", "ok", unsafe_head=head_hash, **({"note": f"answer lost ({error})"} if error else {}))
            return f"old sequencer restarted at {head_hash}", "rolled back: old sequencer active"
        step("roll-back", "failed", error=error or "admin_sequencerActive does not read true")
        return ("roll-back failed: no sequencer may be active",
                "both stopped" if old is False else "unknown: the old op-node cannot be read")


class ConductorStrategy(FailoverStrategy):
    """op-conductor: ask the raft leader to hand leadership over, then confirm the new leader.

    The transfer is sent once: sent again after a lost answer, a follower refuses it ("not the
    leader") and a done transfer would read as a failure. `conductor_leader` decides."""

    name = "conductor"

    def __init__(self, conductor: RpcClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self.conductor = conductor
        self.sleep = sleep

    def preflight(self, confirmation: Confirmation) -> None:
        try:
            if _call(self.conductor, "conductor_paused"):
                raise FailoverRefused("op-conductor is paused: an operator is working on it")
            if _call(self.conductor, "conductor_leader") is not True:
                raise FailoverRefused("this conductor is not the leader; ask the leader's")
        except ChainError as exc:
            raise FailoverRefused(f"op-conductor is unreachable: {exc}") from None

    def execute(self, step: Callable[..., None]) -> dict[str, Any]:
        try:
            self.conductor.call_once("conductor_transferLeader")
            step("transfer-leader", "ok")
        except ChainError as exc:
            step("transfer-leader", "unknown", error=str(exc), note="not resent; conductor_leader decides")
        leader: Any = None
        for _ in range(50):
            try:
                leader = _call(self.conductor, "conductor_leader")
            except ChainError:
                leader = None
            if leader is False:
                step("leader-moved", "ok")
                return {"transferred": True}
            self.sleep(0.2)
        if leader is True:
            raise FailoverAborted("leadership did not move within 10 s", "transfer requested, old leader still leads")
        raise FailoverAborted("op-conductor's leadership cannot be read after the transfer",
                              "unknown: the transfer may or may not have happened; read conductor_leader on "
                              "every conductor")


class SequencerLauncher(Protocol):
    def launch(self, snapshot: Any, provider: Any) -> str:
        """Start a replacement sequencer from `snapshot` (a SnapshotRecord of `provider`); return its
        RPC URL. Archive launchers read `provider.fetch(snapshot)`; volume launchers use the
        snapshot's id. Raises rather than ever start a second sequencer."""


class EndpointSwitch(Protocol):
    def current(self) -> str | None: ...

    def point(self, url: str) -> None:
        """Make the network's sequencer endpoint reach `url`; verified before it returns."""


class FenceFailed(Exception):
    """The old sequencer could not be confirmed stopped."""


class Fence(Protocol):
    def fence(self) -> str:
        """Make sure the old sequencer no longer sequences; say how it was confirmed. FenceFailed otherwise."""


class AdminFence:
    """Fence the old sequencer through its op-node's admin RPC: `admin_stopSequencer` (sent once),
    confirmed only by `admin_sequencerActive` reading false afterwards."""

    def __init__(self, admin: RpcClient) -> None:
        self.admin = admin

    def fence(self) -> str:
        if read_active(self.admin) is False:
            return f"{self.admin.name}: admin_sequencerActive already reads false"
        error = ""
        try:
            self.admin.call_once("admin_stopSequencer")
        except ChainError as exc:
            error = f" (admin_stopSequencer: {exc})"
        active = read_active(self.admin)
        if active is False:
            return f"{self.admin.name}: admin_stopSequencer, then admin_sequencerActive reads false{error}"
        raise FenceFailed(f"{self.admin.name} still sequences{error}" if active else
                          f"{self.admin.name} cannot be read, so its sequencer cannot be confirmed stopped{error}")


class RestoreStrategy(FailoverStrategy):
    """A replacement starts only after the old sequencer is fenced (confirmed stopped): it may be
    alive behind a broken path, and two sequencers reorg users' transactions. And two observers,
    one of them not the sequencer's own endpoint, must have seen the stall."""

    name = "restore"
    min_observers = 2

    def __init__(self, provider: Any, network: str, launcher: SequencerLauncher,
                 rpc_for: Callable[[str], RpcClient], endpoint: EndpointSwitch | None = None,
                 wait_s: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 fence: Fence | None = None) -> None:
        self.fence = fence
        self.provider = provider
        self.network = network
        self.launcher = launcher
        self.endpoint = endpoint
        self.rpc_for = rpc_for
        self.wait_s = wait_s
        self.sleep = sleep
        self.snapshot: Any = None

    def preflight(self, confirmation: Confirmation) -> None:
        if self.fence is None:
            raise FailoverRefused("no way to fence the old sequencer (set failover.active_admin or the network's "
                                  "rollup_rpc): a replacement next to a live one makes two sequencers")
        self.snapshot = self.provider.newest_good(self.network)
        if self.snapshot is None:
            raise FailoverRefused("no verified snapshot to restore from")

    def execute(self, step: Callable[..., None]) -> dict[str, Any]:
        assert self.fence is not None  # preflight refused otherwise
        try:
            how = self.fence.fence()
        except FenceFailed as exc:
            step("fence", "failed", error=str(exc))
            raise FailoverRefused(f"the old sequencer is not fenced ({exc}): no replacement started") from None
        step("fence", "ok", how=how)
        step("launch", "started", snapshot=self.snapshot.id, block=self.snapshot.block)
        try:
            url = self.launcher.launch(self.snapshot, self.provider)
        except Exception as exc:  # a refusal, a snapshot that no longer verifies, a launch failing midway
            raise FailoverAborted(f"the replacement did not start: {type(exc).__name__}: {exc}",
                                  "no replacement serving (see the reason for what exists); the endpoint "
                                  "is unchanged") from None
        step("launch", "ok", block=self.snapshot.block)
        client = self.rpc_for(url)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                head = int(client.call("eth_blockNumber"), 16)
            except (ChainError, ValueError, TypeError):
                head = -1
            if head > self.snapshot.block:
                break
            if time.monotonic() > deadline:
                raise FailoverAborted("the restored sequencer produces no blocks",
                                      "replacement started, not serving; the endpoint is unchanged")
            self.sleep(0.1)
        step("producing", "ok", head=head)
        if self.endpoint is not None:
            before = self._current()
            try:
                self.endpoint.point(url)
            except Exception as exc:
                raise FailoverAborted(f"repointing the sequencer endpoint failed: {exc}",
                                      f"replacement serving at its own address; the endpoint may still reach "
                                      f"{before or 'the old sequencer'}") from None
            step("repoint", "ok", before=before, after=redact_url(url))
        else:
            step("repoint", "skipped", reason="the replacement serves on the sequencer's own address")
        return {"snapshot": self.snapshot.id, "snapshot_block": self.snapshot.block, "first_head": head}

    def _current(self) -> str | None:
        try:
            return self.endpoint.current() if self.endpoint is not None else None
        except Exception:
            return None


@dataclass
class FailoverOutcome:
    status: str  # done | refused | aborted | dry-run
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


class Failover:
    def __init__(self, network: str, policy: NetworkRemedies, store: RemedyStore, strategy: FailoverStrategy,
                 observers: Sequence[Observer], audit: AuditLog | None = None, page: Pager | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 owner: str = "opwatch") -> None:
        self.network = network
        self.policy = policy
        self.store = store
        self.strategy = strategy
        self.observers = list(observers)
        self.audit = audit or AuditLog(store, clock)
        self.page = page or (lambda summary, details: None)
        self.clock = clock
        self.sleep = sleep
        self.owner = owner

    def run(self, request: RemedyRequest) -> FailoverOutcome:
        outcome = self._run(request)
        # Reasons quote exceptions from cloud and HTTP libraries, which quote the URLs they were
        # given: endpoints leave this function by name or redacted URL only.
        outcome = FailoverOutcome(outcome.status, redact_text(outcome.reason), redact_value(outcome.details))
        self.audit.record(request, "result", outcome.status, reason=outcome.reason, **outcome.details)
        # Someone must know: always when a switch stopped midway; when a guard refused a run no
        # person asked for (a person who invoked it reads the refusal in the reply).
        unattended_refusal = outcome.status == "refused" and "refused_by" in outcome.details \
            and not request.approved and not request.dry_run
        if outcome.status == "aborted" or unattended_refusal:
            verb = "aborted" if outcome.status == "aborted" else "refused"
            details = {"network": self.network, "remedy": "failover", "request_id": request.request_id,
                       "outcome": outcome.status, "reason": outcome.reason, **outcome.details}
            try:
                self.page(f"[{self.network}] opwatch failover {verb}: {outcome.reason}", details)
                self.audit.record(request, "page", "ok")
            except Exception as exc:  # the outcome stands and is audited; the page failing is recorded too
                self.audit.record(request, "page", "failed", error=redact_text(f"{type(exc).__name__}: {exc}")[:300])
        return outcome

    def _run(self, request: RemedyRequest) -> FailoverOutcome:
        fo = self.policy.failover
        why = refuses_finding(request)
        if why is None and fo is None:
            why = f"no [remediation.networks.{self.network}.failover] policy"
        if why is None and not request.dry_run and not request.approved \
                and not self.policy.may_run_unattended("failover"):
            why = "failover needs a person's approval on this network (approval = manual or failover.auto = false)"
        if why:
            return FailoverOutcome("refused", why)
        assert fo is not None
        lease = f"failover:{self.network}"
        holder = request.request_id
        if not self.store.acquire_lease(lease, holder, fo.lease_ttl_s, self.clock()):
            return FailoverOutcome("refused", "another failover holds this network's lease", {"refused_by": "lease"})
        try:
            confirmation = observe_stall(self.observers, fo.stall_after_s, self.sleep)
            self.audit.record(request, "observe", "ok", stalled=confirmation.stalled,
                              advancing=confirmation.advancing, abstained=confirmation.abstained,
                              max_head=confirmation.max_head)
            why = confirmation.refusal(max(fo.min_observers, self.strategy.min_observers))
            if why:
                return FailoverOutcome("refused", why, {"refused_by": "observers"})
            try:
                self.strategy.preflight(confirmation)
            except FailoverRefused as exc:
                return FailoverOutcome("refused", str(exc), {"refused_by": "preflight"})
            if request.dry_run:
                return FailoverOutcome("dry-run", f"would fail over with the {self.strategy.name} strategy")

            def step(name: str, outcome: str, **details: Any) -> None:
                self.audit.record(request, name, outcome, **redact_value(details))

            try:
                details = self.strategy.execute(step)
            except FailoverRefused as exc:
                return FailoverOutcome("refused", str(exc), {"refused_by": "strategy"})
            except FailoverAborted as exc:
                return FailoverOutcome("aborted", str(exc), {"state": exc.state})
            except ChainError as exc:
                return FailoverOutcome("aborted", f"unexpected RPC failure: {exc}", {"state": "unknown: check both"})
            return FailoverOutcome("done", f"failed over with the {self.strategy.name} strategy", details)
        finally:
            self.store.release_lease(lease, holder)
