"""AlertManager: severity routing, silences, inhibition, L1 grouping, claims and dead letters.

Runs against the real SQLite store in a temp dir and recording sinks.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from alerting_fixtures import T0, Clock, RecordingSink, finding
from opwatch.alerting import AlertManager, AlertPolicy, Kind, Silence, SqliteStore
from opwatch.alerting.inhibit import l1_cause_key
from opwatch.alerting.model import blind_dedup_key
from opwatch.alerting.sinks import DeliveryError
from opwatch.config import ConfigError
from opwatch.findings import Severity

SEQ = "opwatch/mainnet/sequencer_liveness/sequencer"
# Most tests here watch two sinks apart: critical to the pager, warning to a chat sink.
CHAT_ROUTES = {"critical": ("pagerduty",), "warning": ("chat",), "info": ()}


def with_chat(policy: AlertPolicy) -> AlertPolicy:
    return replace(policy, routes=CHAT_ROUTES)


@pytest.fixture
def env(tmp_path):
    store = SqliteStore(tmp_path / "alerts.db")
    pager, chat, clock = RecordingSink("pagerduty"), RecordingSink("chat"), Clock()

    def manager(policy=None):
        return AlertManager(store, [pager, chat], with_chat(policy or AlertPolicy()), clock)

    yield store, pager, chat, clock, manager
    store.close()


def test_critical_pages_warning_goes_to_chat_info_is_only_recorded(env):
    store, pager, chat, _, manager = env
    m = manager()
    for i in range(5):  # rpc_sync: warning, fires after 5 evaluations
        m.process([finding("firing", i * 60, check="rpc_sync", target="node-a", severity=Severity.WARNING)])
    for i in range(3):
        m.process([finding("firing", i * 60, check="batcher_lag", target="op-node", severity=Severity.INFO)])
    m.process([finding("firing", 0)])  # sequencer_liveness: critical, fires at once
    assert pager.actions() == ["trigger"] and pager.sent[0].dedup_key == SEQ
    assert chat.actions() == ["trigger"] and chat.sent[0].check == "rpc_sync"
    info = store.get("opwatch/mainnet/batcher_lag/op-node")
    assert info.phase == "firing" and [t.kind for t in store.transitions(info.key)] == [Kind.FIRING, Kind.PENDING]


def test_resolve_goes_to_the_sink_that_was_triggered_with_the_findings_dedup_key(env):
    _, pager, chat, _, manager = env
    m = manager()
    m.process([finding("firing", 0)])
    m.process([finding("ok", 60)])
    assert pager.actions() == ["trigger"]  # hysteresis: one ok is not enough
    m.process([finding("ok", 120)])
    assert pager.actions() == ["trigger", "resolve"] and {n.dedup_key for n in pager.sent} == {SEQ}
    assert chat.sent == []
    m.process([finding("ok", 180)])
    m.process([finding("firing", 240)])  # a new incident
    assert pager.actions() == ["trigger", "resolve", "trigger"]


def test_a_silence_mutes_until_it_expires_then_the_still_firing_alert_pages(env):
    _store, pager, _, clock, manager = env
    silence = Silence(network="mainnet", check="sequencer_liveness", until=T0 + 600, reason="maintenance")
    m = manager(AlertPolicy(silences=[silence, Silence(network="other", until=T0 + 10_000)]))
    transitions = m.process([finding("firing", 0)])
    assert pager.sent == []
    assert any(t.kind == Kind.FIRING and t.detail.startswith("silenced until") for t in transitions)
    clock.now = T0 + 601
    m.process([finding("firing", 601)])
    assert pager.actions() == ["trigger"]


def test_a_silence_on_another_network_or_check_does_not_mute(env):
    _, pager, _, _, manager = env
    m = manager(AlertPolicy(silences=[Silence(network="other", until=T0 + 10_000),
                                      Silence(network="mainnet", check="rpc_sync", until=T0 + 10_000)]))
    m.process([finding("firing", 0)])
    assert pager.actions() == ["trigger"]


def test_a_halted_sequencer_inhibits_its_consequences_and_lists_them(env):
    store, pager, chat, clock, manager = env
    m = manager()
    for i in range(5):
        clock.now = T0 + i * 60
        m.process([
            finding("firing", i * 60),
            finding("firing", i * 60, check="rpc_sync", target="node-a", severity=Severity.WARNING),
            finding("firing", i * 60, check="batcher_lag", target="op-node"),
        ])
    assert pager.actions() == ["trigger"] and pager.sent[0].dedup_key == SEQ
    assert chat.sent == []
    assert pager.sent[0].details.get("explains") == ["opwatch/mainnet/batcher_lag/op-node",
                                                     "opwatch/mainnet/rpc_sync/node-a"]  # pending at the time
    rpc = store.transitions("opwatch/mainnet/rpc_sync/node-a")
    assert any(t.kind == Kind.FIRING and t.detail == f"inhibited by {SEQ}" for t in rpc)
    # The sequencer recovers; the RPC node is still behind: now it is its own alert.
    for i in range(5, 7):
        clock.now = T0 + i * 60
        m.process([finding("ok", i * 60), finding("ok", i * 60, check="batcher_lag", target="op-node"),
                   finding("firing", i * 60, check="rpc_sync", target="node-a", severity=Severity.WARNING)])
    assert pager.actions() == ["trigger", "resolve"]
    assert chat.actions() == ["trigger"] and chat.sent[0].check == "rpc_sync"


def test_an_alert_paged_before_its_cause_is_left_open_not_resolved_behind_the_responders_back(env):
    _, pager, _, _, manager = env
    m = manager()
    for i in range(3):
        m.process([finding("firing", i * 60, check="batcher_lag", target="op-node")])
    m.process([finding("firing", 200), finding("firing", 200, check="batcher_lag", target="op-node")])
    assert pager.actions() == ["trigger", "trigger"]
    assert pager.actions("opwatch/mainnet/batcher_lag/op-node") == ["trigger"]


def l1_down(t):
    error = {"error": "NoHealthyEndpoint", "endpoint": "l1", "reason": "no healthy endpoint"}
    return [finding("unknown", t, check="batch_submission", target="batcher", **error),
            finding("unknown", t, check="wallet_runway", target="batcher", **error),
            finding("unknown", t, check="wallet_runway", target="proposer", **error),
            finding("unknown", t, check="proposer_freshness", target="proposer", **error)]


def test_every_l1_endpoint_unreachable_is_one_alert_not_one_per_check(env):
    store, pager, chat, clock, manager = env
    m = manager()
    for i in range(12):
        clock.now = T0 + i * 60
        m.process(l1_down(i * 60))
    notes = pager.sent + chat.sent
    assert [n.action for n in notes] == ["trigger"]
    assert notes[0].dedup_key == blind_dedup_key("mainnet", "l1", "endpoints")
    assert "opwatch cannot see L1" in notes[0].summary and len(notes[0].details["explains"]) == 4
    assert notes[0].runbook == "docs/runbooks/opwatch_blind.md"
    member = store.get("opwatch/mainnet/wallet_runway/batcher")
    assert member.blind  # its own blind state is kept, only its notification is inhibited
    clock.now = T0 + 1000
    m.process([finding("ok", 1000, check=f.check, target=f.target) for f in l1_down(0)])
    assert [n.action for n in chat.sent] == ["trigger", "resolve"]
    assert store.get(l1_cause_key("mainnet")).blind is False


def test_a_long_unknown_run_is_its_own_alert_never_ok(env):
    store, pager, _, _, manager = env
    m = manager()
    m.process([finding("firing", 0)])
    for i in range(1, 4):
        m.process([finding("unknown", i * 60)])
    assert pager.actions(SEQ) == ["trigger"]  # the incident stays open
    blind_key = blind_dedup_key("mainnet", "sequencer_liveness", "sequencer")
    assert pager.actions(blind_key) == ["trigger"]  # sequencer blindness is critical: pages
    assert store.get(SEQ).phase == "firing"


def test_a_final_refusal_is_dead_lettered_alarmed_on_the_other_sink_and_not_retried(env):
    store, pager, chat, _, manager = env
    pager.fail = DeliveryError("HTTP 400: bad", retryable=False)
    m = manager()
    transitions = m.process([finding("firing", 0)])
    assert any(t.kind == Kind.UNDELIVERABLE and "(final)" in t.detail for t in transitions)
    [letter] = store.dead_letters()
    assert letter.final and letter.dedup_key == SEQ and letter.action == "trigger"
    assert [n.check for n in chat.sent] == ["opwatch_paging"]
    pager.fail = None
    m.process([finding("firing", 60)])
    assert pager.sent == [] and len(chat.sent) == 1  # not retried, not alarmed twice


def test_a_retryable_failure_is_dead_lettered_then_delivered_on_the_next_evaluation(env):
    store, pager, _chat, _, manager = env
    pager.fail = DeliveryError("gave up after 4 attempts: HTTP 503", retryable=True)
    m = manager()
    m.process([finding("firing", 0)])
    assert pager.sent == [] and not store.dead_letters()[0].final
    pager.fail = None
    m.process([finding("firing", 60)])
    assert pager.actions() == ["trigger"]


def test_a_claim_left_by_a_crashed_evaluator_expires_and_another_sends(env):
    store, pager, _, clock, manager = env
    m = manager()
    state = store.get(SEQ)
    assert state is None
    pager.fail = None
    # An evaluator applied the finding and claimed the page, then died before sending.
    crashed = AlertManager(store, [RecordingSink("pagerduty")], AlertPolicy(), clock)
    crashed._apply(finding("firing", 0))
    crashed._claim(SEQ)
    m.process([finding("firing", 60)])
    assert pager.sent == []  # the lease still holds
    clock.now = T0 + AlertPolicy().claim_seconds + 1
    m.process([finding("firing", 180)])
    assert pager.actions() == ["trigger"]


def test_a_page_for_a_check_with_a_remedy_carries_the_exact_command_to_approve_it(env):
    from opwatch.remedies.request import RemedyRequest

    _, pager, chat, _, manager = env
    m = manager()
    for i in range(5):
        m.process([finding("firing", i * 60, check="rpc_sync", target="node-a", severity=Severity.WARNING)])
    m.process([finding("firing", 0)])  # sequencer_liveness → failover
    hint = pager.sent[0].details["remedy"]
    assert hint["remedy"] == "failover"
    assert hint["approve"] == (f"opwatch remediate failover --config opwatch.toml --network mainnet "
                               f"--request-id approve:{SEQ}:1 --approved-by <you>")
    assert hint["dry_run"].endswith("--dry-run") and "--approved-by" not in hint["dry_run"]
    # The payload is a valid request for the deployed functions, with the same request id.
    request = RemedyRequest.from_dict(hint["payload"] | {"approved_by": "alice"})
    assert (request.remedy, request.network, request.request_id) == ("failover", "mainnet", f"approve:{SEQ}:1")
    assert "remedy" not in chat.sent[0].details  # rpc_sync has no remedy: no hint


def test_a_wallet_page_names_the_wallet_to_top_up(env):
    _, pager, _, _, manager = env
    m = manager()
    for i in range(40):  # wallet_runway holds long before it fires
        m.process([finding("firing", i * 60, check="wallet_runway", target="batcher")])
        if pager.sent:
            break
    hint = pager.sent[0].details["remedy"]
    assert "--target batcher" in hint["approve"] and hint["payload"]["target"] == "batcher"


def test_by_default_a_warning_pages_once_at_warning_severity(tmp_path):
    # The sinks the deployed pagers build: PagerDuty only.
    pager = RecordingSink("pagerduty")
    m = AlertManager(SqliteStore(tmp_path / "a.db"), [pager], AlertPolicy(), Clock())
    for i in range(8):  # rpc_sync: a warning, fires after 5 evaluations
        m.process([finding("firing", i * 60, check="rpc_sync", target="node-a", severity=Severity.WARNING)])
    assert pager.actions() == ["trigger"] and pager.sent[0].severity == "warning"


def test_a_manager_whose_routes_name_a_sink_it_does_not_have_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError) as info:
        AlertManager(SqliteStore(tmp_path / "a.db"), [RecordingSink("pagerduty")], with_chat(AlertPolicy()))
    [problem] = info.value.problems
    assert problem.startswith("alerting.routes.warning:") and "'chat'" in problem and "pagerduty" in problem


def test_a_manager_whose_routes_send_warnings_nowhere_refuses_to_start(tmp_path):
    policy = replace(AlertPolicy(), routes={"critical": ("pagerduty",)})
    with pytest.raises(ConfigError, match=r"alerting\.routes\.warning:"):
        AlertManager(SqliteStore(tmp_path / "a.db"), [RecordingSink("pagerduty")], policy)


def test_a_severity_without_a_route_of_its_own_takes_the_critical_route():
    # A state written by another version may carry a severity this one does not know.
    policy = AlertPolicy(routes={"critical": ("pagerduty",), "warning": ("chat",), "info": ()})
    assert policy.route("error") == ("pagerduty",) and policy.route("info") == ()


def test_a_failed_page_of_a_later_incident_is_alarmed_again(env):
    _store, pager, chat, _, manager = env
    m = manager()
    pager.fail = DeliveryError("gave up after 4 attempts: HTTP 503", retryable=True)
    m.process([finding("firing", 0)])
    assert [n.check for n in chat.sent] == ["opwatch_paging"]
    pager.fail = None
    for t in (60, 120, 180):  # delivered late, then resolved
        m.process([finding("firing" if t == 60 else "ok", t)])
    assert pager.actions() == ["trigger", "resolve"]
    pager.fail = DeliveryError("gave up after 4 attempts: HTTP 503", retryable=True)
    m.process([finding("firing", 240)])  # incident 2 cannot be paged either: someone must hear of it
    assert [n.check for n in chat.sent] == ["opwatch_paging", "opwatch_paging"]
    m.process([finding("firing", 300)])  # still the same failure: not alarmed twice
    assert len(chat.sent) == 2


def test_an_alarm_that_cannot_be_delivered_either_is_a_dead_letter_not_swallowed(env):
    store, pager, chat, _, manager = env
    pager.fail = DeliveryError("gave up after 4 attempts: HTTP 503", retryable=True)
    chat.fail = DeliveryError("HTTP 400: bad", retryable=False)
    manager().process([finding("firing", 0)])
    letters = {(d.channel, d.dedup_key) for d in store.dead_letters()}
    assert letters == {("pagerduty", SEQ), ("chat", "opwatch/mainnet/opwatch_paging/pagerduty")}
    [alarm] = [d for d in store.dead_letters() if d.channel == "chat"]
    assert "HTTP 400" in alarm.error and "could not deliver" in alarm.summary


def test_a_sink_error_quoting_a_url_with_credentials_is_recorded_redacted(env):
    store, _pager, _chat, _, manager = env

    class Leaky(RecordingSink):
        def send(self, notification):  # type: ignore[no-untyped-def]
            raise OSError(f"POST https://ops:hunter2@hooks.example/T0/B0/s3cr3t failed ({notification.check})")

    m = AlertManager(store, [Leaky("pagerduty"), Leaky("chat")], manager().policy)
    transitions = m.process([finding("firing", 0)])
    recorded = " ".join([t.detail for t in transitions] + [d.error for d in store.dead_letters()])
    assert "hooks.example" in recorded and "hunter2" not in recorded and "s3cr3t" not in recorded
