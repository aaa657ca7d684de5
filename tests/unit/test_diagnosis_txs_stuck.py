"""`txs_stuck` in a wallet's diagnosis: a pending nonce above the mined one is stuck only when the
mined nonce stood still over the L1 blocks read; a transaction in flight while others are being
mined is not (it would lead a derivation stall's diagnosis with the wrong cause)."""

from __future__ import annotations

from opwatch.checks.diagnosis import WalletState, wallet_causes
from opwatch.config import WalletProfile
from opwatch.memory import Memory, Observation, SqliteMemoryStore

PROFILE = WalletProfile(60.0, 21_000, 0, 10**9)


def _state(mined: int, pending: int, nonce_back: int | None) -> WalletState:
    return WalletState(balance=10**21, mined_nonce=mined, pending_nonce=pending, base_fee=10**9, blob_base_fee=None,
                       head=100, nonce_back=nonce_back, back_blocks=4 if nonce_back is not None else 0,
                       batcher_hash=None)


def _stuck(state: WalletState, memory: Memory, now: float = 1000.0) -> dict[str, object]:
    causes, _ = wallet_causes("batcher", PROFILE, state, memory, now, "one batch")
    cause = next(c for c in causes if c.cause == "txs_stuck")
    return {"holds": cause.holds, "measured": cause.measured}


def test_a_transaction_in_flight_while_the_mined_nonce_moves_is_not_stuck(tmp_path) -> None:  # type: ignore[no-untyped-def]
    memory = Memory(SqliteMemoryStore(tmp_path / "m.db"), "devnet", "batcher_lag")
    found = _stuck(_state(mined=12, pending=13, nonce_back=10), memory)
    assert found["holds"] is False and "2 mined in the last 4 L1 blocks" in str(found["measured"])


def test_a_pending_nonce_over_a_mined_nonce_that_stood_still_is_stuck_first_seen_or_for_how_long(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteMemoryStore(tmp_path / "m.db")
    memory = Memory(store, "devnet", "batcher_lag")
    first = _stuck(_state(mined=12, pending=15, nonce_back=12), memory)
    assert first["holds"] is True and "none mined in the last 4 L1 blocks" in str(first["measured"])
    assert "first seen now" in str(first["measured"])
    store.put("devnet", "batcher_lag", "batcher", Observation(700.0, {"mined_nonce": 12, "mined_since": 700.0}))
    later = _stuck(_state(mined=12, pending=15, nonce_back=12), memory)
    assert later["holds"] is True and "for at least 5 min" in str(later["measured"])


def test_without_the_earlier_nonce_a_pending_transaction_counts_as_stuck_and_nothing_pending_never(tmp_path) -> None:  # type: ignore[no-untyped-def]
    memory = Memory(SqliteMemoryStore(tmp_path / "m.db"), "devnet", "wallet_runway")
    assert _stuck(_state(mined=3, pending=4, nonce_back=None), memory)["holds"] is True
    assert _stuck(_state(mined=3, pending=3, nonce_back=3), memory)["holds"] is False
