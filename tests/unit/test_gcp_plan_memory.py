"""Deployed check memory on GCP: the plan creates a Firestore database of the checks' own for
what they remember (TTL on check_memory), tells every check function where it is
(OPWATCH_MEMORY_STORE), and grants each check account datastore.user conditioned on that
database alone: never the alert state (the pager's) nor the remedy state; the pager and the
remedies keep exactly their databases."""

from __future__ import annotations

from opwatch.deploy.gcp_plan import functions
from test_gcp_plan_iam import EXAMPLE, condition_allows, grants, plan_of


def _databases(s):  # type: ignore[no-untyped-def]
    project = f"projects/{s.project}/databases"
    return {"memory": f"{project}/{s.name('memory')}", "alerts": f"{project}/{s.firestore_database}",
            "remedies": f"{project}/{s.remedy_store_database}"}


def test_check_functions_reach_their_memory_database_only():
    config, s, cmds = plan_of(EXAMPLE)
    dbs = _databases(s)
    assert ["gcloud", "firestore", "databases", "create", f"--database={s.name('memory')}"] == \
        [a for a in next(c for c in cmds if c[:4] == ["gcloud", "firestore", "databases", "create"]
                         and f"--database={s.name('memory')}" in c) if not a.startswith("--") or "database=" in a]
    assert any("--collection-group=check_memory" in c and f"--database={s.name('memory')}" in c for c in cmds)
    for f in functions(config, s):
        env = dict(f.env)
        stores = [cond for role, _, cond in grants(cmds, f.service_account) if role == "roles/datastore.user"]
        if f.trigger_topic:  # a check function
            assert env["OPWATCH_MEMORY_STORE"] == f"firestore:{s.project}/{s.name('memory')}", f.name
            assert len(stores) == 1, f.name
            assert condition_allows(stores[0], dbs["memory"] + "/documents/check_memory/x")
            assert not condition_allows(stores[0], dbs["alerts"] + "/documents/alert_state/x")
            assert not condition_allows(stores[0], dbs["remedies"] + "/documents/x")
        else:
            assert "OPWATCH_MEMORY_STORE" not in env, f.name
            assert not any(condition_allows(c, dbs["memory"]) for c in stores), f.name
            wanted = dbs["alerts"] if f.entry_point == "pager" else dbs["remedies"]
            assert stores and all(condition_allows(c, wanted) for c in stores), f.name


def test_a_memory_database_that_is_another_stores_is_refused():
    import pytest
    from opwatch.config import ConfigError

    config, s, _ = plan_of(EXAMPLE)
    from dataclasses import replace

    with pytest.raises(ConfigError, match="memory"):
        functions(config, replace(s, remedy_database=s.name("memory")))
