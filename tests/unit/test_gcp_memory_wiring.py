"""The GCP check functions' memory comes from OPWATCH_MEMORY_STORE (the plan sets it to the
checks' own Firestore database): the composition root builds that store, a SQLite one locally,
none when unset, and refuses a spec it cannot read instead of running without memory silently."""

from __future__ import annotations

import pytest
from opwatch.gcp.compose import memory_store
from opwatch.memory import Observation, SqliteMemoryStore


def test_firestore_spec_names_the_project_and_the_memory_database():
    from opwatch.gcp.memory_store import FirestoreMemoryStore

    store = memory_store("firestore:opwatch-example/opwatch-memory")
    assert isinstance(store, FirestoreMemoryStore)
    # Without credentials here, so the parsed names, not a call: the project and the database.
    assert (store.rest._project, store.rest.database) == ("opwatch-example", "opwatch-memory")


def test_sqlite_spec_round_trips_and_unset_means_no_memory(tmp_path):
    store = memory_store(f"sqlite:{tmp_path / 'm.db'}")
    assert isinstance(store, SqliteMemoryStore)
    assert store.put("devnet", "batch_submission", "batcher", Observation(1.0, {"mined_nonce": 3}))
    assert store.get("devnet", "batch_submission", "batcher") == Observation(1.0, {"mined_nonce": 3})
    assert memory_store(None) is None and memory_store("") is None


@pytest.mark.parametrize("spec", ["dynamodb:t", "firestore:", "sqlite:"])
def test_an_unreadable_spec_is_refused(spec):
    with pytest.raises(ValueError, match="OPWATCH_MEMORY_STORE"):
        memory_store(spec)
