"""The alert lifecycle: findings in, transitions recorded, notifications out.

    manager = AlertManager(store, sinks=[PagerDutySink(...)], policy=AlertPolicy())
    transitions = manager.process(findings)

Per finding, two steps, each a compare-and-set on the key's stored version (re-read and
re-applied when another evaluator won):

1. **apply**: run the state machine (`machine.advance`) and commit the new state together
   with the transitions it caused.
2. **reconcile**: compare what each sink should show (trigger while firing or blind and
   routed there, not silenced, not inhibited; resolve once it closed) with what it was
   last told (`state.notified`). Owed notifications are first *claimed* (a lease written
   into the state by CAS), then sent, then recorded as delivered. Only the evaluator whose
   claim committed sends, so N concurrent evaluations page once; the claimer re-checks
   after sending, so a resolve that arrived meanwhile is not lost; a claim left by a
   crashed evaluator expires after `policy.claim_seconds` and another one sends.

A notification that cannot be delivered lands in the store's dead letters, is recorded as
an `undeliverable` transition, and raises a `opwatch_paging` alarm on the other sinks.

Silences come from the config (`policy.silences`) and from the store (`opwatch silence add`,
alerting/silences.py), read once per `process`. A silence store that cannot be read counts
as holding no silence, with a warning logged: the batch pages as if nothing were silenced.
Why not fail the invocation so it is retried: a silence only spares people noise, while a
page is the reason opwatch runs. Failing would hold back every page of the batch, and a cause
that persists (a grant taken away, a record another version wrote) would fail every retry
and drop the pages into the dead-letter queue. Paging something that was silenced is the
cheaper mistake, and the warning says why it happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..config import ConfigError
from ..findings import Finding, make_dedup_key, utc_now_iso
from ..redact import redact_text
from . import inhibit
from .machine import advance
from .model import BLIND_CHECK, PAGING_CHECK, AlertState, DeadLetter, Kind, Notification, Phase, Transition
from .policy import AlertPolicy, Silence, route_problems
from .silences import SilenceStore, active
from .sinks import DeliveryError, Sink
from .store.base import Conflict, StateStore

BLIND_RUNBOOK = f"docs/runbooks/{BLIND_CHECK}.md"
log = logging.getLogger("opwatch.alerting")


@dataclass(frozen=True, slots=True)
class _Due:
    channel: str
    sink: Sink
    notification: Notification
    episode: int


class AlertManager:
    def __init__(self, store: StateStore, sinks: Iterable[Sink] = (), policy: AlertPolicy | None = None,
                 clock: Callable[[], float] = time.time, max_conflicts: int = 20,
                 silences: SilenceStore | None = None) -> None:
        self.store = store
        # Stored silences live next to the alert state: every alert store keeps them.
        self.silence_store = silences if silences is not None else (
            store if isinstance(store, SilenceStore) else None)
        self._stored: tuple[Silence, ...] = ()
        self.sinks = {sink.name: sink for sink in sinks}
        self.policy = policy or AlertPolicy()
        # A route to a sink that is not here would record every transition and notify no one:
        # refuse to start instead (a cold start fails loudly; the delivery is retried).
        problems = route_problems(self.policy.routes, self.sinks)
        if problems:
            raise ConfigError(problems)
        self.clock = clock
        self.max_conflicts = max_conflicts

    # --- the entry point --------------------------------------------------------------

    def process(self, findings: Iterable[Finding]) -> list[Transition]:
        """Apply a batch of findings; return every transition recorded (lifecycle and deliveries)."""
        batch = list(findings)
        self._stored = self._read_silences()
        batch = sorted(batch + inhibit.group_causes(batch), key=inhibit.source_first)
        out: list[Transition] = []
        # Apply everything before notifying anything: inhibition then sees this batch's
        # causes, and a cause's page can list the consequences it explains.
        for finding in batch:
            out += self._apply(finding)
        keys = list(dict.fromkeys(f.dedup_key for f in batch))
        for key in keys:
            out += self._reconcile(key)
        seen = set(keys)
        # Alerts not in this batch may owe a notification too: a silence expired, an
        # inhibiting alert closed, a claim expired, a delivery failed last time.
        for state in self.store.open_alerts():
            if state.key not in seen:
                out += self._reconcile(state.key)
        return out

    # --- step 1: the lifecycle --------------------------------------------------------

    def _apply(self, finding: Finding) -> list[Transition]:
        timing = self.policy.timing(finding.check)
        for _ in range(self.max_conflicts):
            before = self.store.get(finding.dedup_key)
            state, transitions = advance(before, finding, timing)
            if before is not None and state.to_dict() == before.to_dict():
                return []  # a duplicate or an older finding: nothing to write
            transitions = [self._annotate(state, t) for t in transitions]
            if self.store.commit(state, transitions):
                return transitions
        raise Conflict(f"{finding.dedup_key}: lost {self.max_conflicts} compare-and-sets in a row")

    def _annotate(self, state: AlertState, t: Transition) -> Transition:
        if t.kind not in (Kind.FIRING, Kind.BLIND):
            return t
        why = self._suppressed(state, blind=t.kind == Kind.BLIND)
        return replace(t, detail=why) if why else t

    def _read_silences(self) -> tuple[Silence, ...]:
        """The store's active silences; none, with a warning, when they cannot be read (see the
        module docstring: an unreadable silence never holds back a page)."""
        if self.silence_store is None:
            return ()
        try:
            return tuple(Silence(network=s.network, until=s.until, check=s.check, reason=s.describe())
                         for s in active(self.silence_store, self.clock()))
        except Exception as exc:
            log.warning("stored silences could not be read; paging as if none were set: %s", _error_text(exc))
            return ()

    def _suppressed(self, state: AlertState, blind: bool) -> str:
        now = self.clock()
        silence = self.policy.silenced(state.network, state.check, now) or next(
            (s for s in self._stored if s.matches(state.network, state.check, now)), None)
        if silence:
            return f"silenced until {utc_now_iso(silence.until)}" + (f" ({silence.reason})" if silence.reason else "")
        cause = inhibit.inhibited_by(state, blind, self.store.get)
        return f"inhibited by {cause}" if cause else ""

    # --- step 2: notifications --------------------------------------------------------

    def _due(self, state: AlertState, now: float) -> list[_Due]:
        due = []
        for blind in (False, True):
            timing = self.policy.timing(state.check)
            active = state.blind if blind else state.phase == Phase.FIRING
            episode = state.blind_episode if blind else state.incident
            severity = timing.blind_severity if blind else state.severity
            suppressed: str | None = None  # computed once, only when a trigger is owed
            for sink in self.sinks.values():
                channel = sink.name + ("#blind" if blind else "")
                done = state.notified.get(channel, "")
                if state.claims.get(channel, 0.0) > now:
                    continue  # another evaluator holds the lease
                ep = episode
                if active:
                    # An incident whose latest result is ok (closing, within its hysteresis) is
                    # not opened late, e.g. when a silence or an inhibition ends meanwhile.
                    if not blind and state.good_count > 0 and not done.startswith("trigger:"):
                        continue
                    if done in (f"trigger:{episode}", f"dead:trigger:{episode}"):
                        continue
                    if sink.name not in self.policy.route(severity):
                        continue
                    if suppressed is None:
                        suppressed = self._suppressed(state, blind)
                    if suppressed:
                        continue
                    action = "trigger"
                elif done.startswith("trigger:"):
                    action, ep = "resolve", int(done.split(":")[1])
                else:
                    continue
                due.append(_Due(channel, sink, self._notification(state, action, blind, severity), ep))
        return due

    def _notification(self, state: AlertState, action: str, blind: bool, severity: str) -> Notification:
        if blind:
            explains = state.unknown_details.get("explains", [])
            subject = "L1" if state.check == inhibit.L1_CAUSE_CHECK else f"{state.check}/{state.target}"
            return Notification(
                action=action, dedup_key=state.blind_key, severity=severity,
                summary=f"[{state.network}] opwatch cannot see {subject}: {state.unknown_reason}",
                network=state.network, check=BLIND_CHECK, target=f"{state.check}/{state.target}",
                runbook=BLIND_RUNBOOK, timestamp=state.last_observed_at,
                details={"unknown_results": state.unknown_count, "unknown_since": state.unknown_since,
                         "reason": state.unknown_details, **({"explains": explains} if explains else {})},
            )
        details = {"incident": state.incident, "details": state.details}
        if action == "trigger":
            attached = inhibit.consequences(state, self.store.open_alerts())
            if attached:
                details["explains"] = attached
            hint = remedy_hint(state.network, state.check, state.target, f"{state.key}:{state.incident}")
            if hint:
                details["remedy"] = hint
        return Notification(
            action=action, dedup_key=state.key, severity=severity, summary=f"[{state.network}] {state.summary}",
            network=state.network, check=state.check, target=state.target, runbook=state.runbook,
            timestamp=state.last_observed_at, observed=state.observed, threshold=state.threshold, details=details,
        )

    def _claim(self, key: str) -> list[_Due]:
        for _ in range(self.max_conflicts):
            state = self.store.get(key)
            if state is None:
                return []
            now = self.clock()
            due = self._due(state, now)
            if not due:
                return []
            for d in due:
                state.claims[d.channel] = now + self.policy.claim_seconds
            if self.store.commit(state):
                return due
        raise Conflict(f"{key}: lost {self.max_conflicts} compare-and-sets while claiming")

    def _reconcile(self, key: str) -> list[Transition]:
        out: list[Transition] = []
        for _ in range(3):  # send, then look again: a resolve may have landed meanwhile
            due = self._claim(key)
            if not due:
                break
            results: list[tuple[_Due, DeliveryError | None]] = []
            for d in due:
                try:
                    d.sink.send(d.notification)
                    results.append((d, None))
                except DeliveryError as exc:
                    results.append((d, exc))
                except Exception as exc:
                    results.append((d, DeliveryError(_error_text(exc), retryable=True)))
            out += self._settle(key, results)
            if any(error is not None for _, error in results):
                break  # retried on the next evaluation, not in a tight loop
        return out

    def _settle(self, key: str, results: Sequence[tuple[_Due, DeliveryError | None]]) -> list[Transition]:
        at = utc_now_iso(self.clock())
        for _ in range(self.max_conflicts):
            state = self.store.get(key)
            assert state is not None  # we claimed it
            transitions = []
            for d, error in results:
                n = d.notification
                state.claims.pop(d.channel, None)
                if error is None:
                    state.notified[d.channel] = f"{n.action}:{d.episode}"
                    kind, detail = Kind.NOTIFIED, f"{n.action} via {d.sink.name} ({n.dedup_key})"
                else:
                    if not error.retryable:
                        state.notified[d.channel] = f"dead:{n.action}:{d.episode}"
                    kind = Kind.UNDELIVERABLE
                    detail = f"{n.action} via {d.sink.name}: {error}" + ("" if error.retryable else " (final)")
                transitions.append(Transition(key=key, kind=kind, at=at, network=state.network, check=state.check,
                                              target=state.target, incident=d.episode, summary=n.summary,
                                              observed=n.observed, detail=detail))
            if self.store.commit(state, transitions):
                break
        else:
            raise Conflict(f"{key}: lost {self.max_conflicts} compare-and-sets while settling")
        for d, error in results:
            if error is not None:
                self._dead_letter(key, d, error, at)
        return transitions

    def _dead_letter(self, key: str, d: _Due, error: DeliveryError, at: str) -> None:
        n = d.notification
        letter = DeadLetter(key=key, channel=d.channel, action=n.action, dedup_key=n.dedup_key, at=at,
                            error=str(error), final=not error.retryable, summary=n.summary, episode=d.episode)
        if not self.store.put_dead_letter(letter):
            return  # already alarmed about this one
        alarm = Notification(
            action="trigger", dedup_key=make_dedup_key(n.network, PAGING_CHECK, d.sink.name), severity="warning",
            summary=f"[{n.network}] opwatch could not deliver a {n.action} to {d.sink.name}: {n.summary}"[:1024],
            network=n.network, check=PAGING_CHECK, target=d.sink.name, runbook=BLIND_RUNBOOK, timestamp=at,
            details={"dead_letter": letter.to_dict()},
        )
        for other in self.sinks.values():
            if other is d.sink:
                continue
            try:
                other.send(alarm)
            except Exception as exc:
                # Not retried (the owed notification itself is), but never swallowed: the alarm
                # that could not be delivered either is a dead letter of its own.
                final = isinstance(exc, DeliveryError) and not exc.retryable
                self.store.put_dead_letter(DeadLetter(
                    key=key, channel=other.name, action=alarm.action, dedup_key=alarm.dedup_key, at=at,
                    error=_error_text(exc),
                    final=final, summary=alarm.summary, episode=d.episode))


def _error_text(exc: Exception) -> str:
    """What a failed delivery is recorded as: HTTP libraries quote the URL they called, and a
    webhook's URL is its credential, so every URL in the text is redacted."""
    text = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
    return redact_text(text)


def remedy_hint(network: str, check: str, target: str, incident: str) -> dict[str, Any] | None:
    """What to run to act on this alert by hand: the exact command (dry run first) and the
    payload a deployed remedy function takes. The request id is the incident's, so two people
    approving the same page run the remedy once (the remedies claim request ids)."""
    from ..remedies.request import TRIGGERS

    remedy = TRIGGERS.get(check)
    if remedy is None:
        return None
    request_id = f"approve:{incident}"
    target_arg = f" --target {target}" if remedy == "topup" else ""
    command = (f"opwatch remediate {remedy} --config opwatch.toml --network {network}{target_arg} "
               f"--request-id {request_id}")
    payload: dict[str, Any] = {"remedy": remedy, "network": network, "request_id": request_id,
                               "approved_by": "<you>"}
    if remedy == "topup":
        payload["target"] = target
    return {"remedy": remedy, "dry_run": f"{command} --dry-run", "approve": f"{command} --approved-by <you>",
            "payload": payload, "where": "through the deployed remedy function (payload, or --invoke URL), or with "
                                         "a config whose [remediation] store is the deployed one: caps and claims "
                                         "hold within one store",
            "docs": "docs/remediation.md"}
