"""A mutating call whose answer is lost: the failover decides from what is true, never retries.

op-node and op-conductor stand-ins (tests/opnode_admin_standin.py) perform the switch and then
drop the connection, as a timeout after success looks to the caller. Clients are built as the
remedy service builds them (the configured retries, 2), so a retried mutating call shows: a
second `admin_stopSequencer` answers "sequencer not running", a second `admin_startSequencer`
"already running", a second `conductor_transferLeader` "not the leader". The failover must end
with exactly one active sequencer and report that, not roll back a switch that succeeded nor
leave both stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opnode_admin_standin import AdminStandIn
from opwatch.chain.rpc import RpcClient
from opwatch.config import Endpoint
from opwatch.remedies.failover import (
    AdminPairStrategy,
    ConductorStrategy,
    Confirmation,
    FailoverAborted,
    FailoverRefused,
)

HEAD = "0x" + "ab" * 32
CONFIRMED = Confirmation(stalled=["sequencer", "rpc-0"], advancing=[], abstained=[], max_head=100)


def client(url: str, name: str) -> RpcClient:
    return RpcClient(Endpoint(url, name), timeout=3.0, retries=2, backoff=0.01)


@pytest.fixture
def pair() -> Iterator[tuple[AdminStandIn, AdminStandIn]]:
    old, standby = AdminStandIn(active=True, head_hash=HEAD), AdminStandIn(active=False, head_hash=HEAD)
    yield old, standby
    old.stop()
    standby.stop()


def admin(old: AdminStandIn, standby: AdminStandIn) -> AdminPairStrategy:
    return AdminPairStrategy(client(old.url, "old"), client(standby.url, "standby"), client(standby.url, "standby-rpc"),
                             catch_up_s=2.0, sleep=lambda _s: None)


def run(strategy: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str]], Exception | None]:
    steps: list[tuple[str, str]] = []
    try:
        out = strategy.execute(lambda name, outcome, **_: steps.append((name, outcome)))
        return out, steps, None
    except (FailoverAborted, FailoverRefused) as exc:
        return None, steps, exc


def test_a_stop_whose_answer_is_lost_is_confirmed_and_the_switch_completes(pair) -> None:
    old, standby = pair
    old.lose_answer["admin_stopSequencer"] = 1
    out, steps, error = run(admin(old, standby))
    assert error is None, error
    assert out == {"unsafe_head": HEAD}
    assert (not old.active, standby.active) == (True, True)  # exactly one active: the standby
    assert old.calls.count("admin_stopSequencer") == 1  # never sent twice
    assert ("stop-old", "ok") in steps and ("start-standby", "ok") in steps


def test_a_start_whose_answer_is_lost_is_not_rolled_back(pair) -> None:
    old, standby = pair
    standby.lose_answer["admin_startSequencer"] = 1
    out, steps, error = run(admin(old, standby))
    assert error is None, error  # it did start: that is a completed switch, not a failure
    assert out == {"unsafe_head": HEAD}
    assert (old.active, standby.active) == (False, True)
    assert standby.calls.count("admin_startSequencer") == 1
    assert old.calls.count("admin_startSequencer") == 0  # no roll-back of a switch that succeeded
    assert ("start-standby", "ok") in steps


def test_a_start_that_never_happened_rolls_back_to_the_old_sequencer(pair) -> None:
    old, standby = pair
    standby.lose_answer["admin_startSequencer"] = 1
    standby.perform_lost = False  # the request was lost before the node acted
    out, steps, error = run(admin(old, standby))
    assert isinstance(error, FailoverAborted) and out is None
    assert ("roll-back", "ok") in steps
    assert (old.active, standby.active) == (True, False)  # exactly one active: the old one, restarted
    assert error.state == "rolled back: old sequencer active"
    assert standby.calls.count("admin_startSequencer") == 1


def test_a_roll_back_whose_answer_is_lost_reports_the_old_sequencer_active(pair) -> None:
    old, standby = pair
    standby.lose_answer["admin_startSequencer"] = 1
    standby.perform_lost = False
    old.lose_answer["admin_startSequencer"] = 1  # the roll-back start acts, its answer is lost
    _, _, error = run(admin(old, standby))
    assert isinstance(error, FailoverAborted)
    assert (old.active, standby.active) == (True, False)
    assert error.state == "rolled back: old sequencer active"  # not "both stopped": it is active
    assert old.calls.count("admin_startSequencer") == 1


def test_a_stop_that_did_not_happen_changes_nothing(pair) -> None:
    old, standby = pair
    old.lose_answer["admin_stopSequencer"] = 1
    old.perform_lost = False
    _, _, error = run(admin(old, standby))
    assert isinstance(error, FailoverRefused), error  # nothing changed: a refusal, not an abort
    assert (old.active, standby.active) == (True, False)
    assert old.calls.count("admin_stopSequencer") == 1


def test_a_transfer_whose_answer_is_lost_is_confirmed_by_the_leader_read_back() -> None:
    conductor = AdminStandIn(active=True, head_hash=HEAD, leader=True)
    try:
        conductor.lose_answer["conductor_transferLeader"] = 1
        out, steps, error = run(ConductorStrategy(client(conductor.url, "conductor"), sleep=lambda _s: None))
        assert error is None, error
        assert out == {"transferred": True} and not conductor.leader
        assert conductor.calls.count("conductor_transferLeader") == 1
        assert ("leader-moved", "ok") in steps
    finally:
        conductor.stop()
