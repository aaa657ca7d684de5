"""Stored silences on GCP: they are documents of `alert_silence` in the pager's own database (the
one OPWATCH_STATE_STORE names), so the pager's datastore.user grant, conditioned on that
database, covers reading them; no check account reaches them (their grant is conditioned on the
memory database)."""

from __future__ import annotations

from opwatch.deploy.gcp_plan import functions
from opwatch.gcp.alert_store import SILENCES
from test_gcp_plan_iam import EXAMPLE, condition_allows, grants, plan_of


def test_the_pager_reads_silences_in_its_state_database_and_no_check_account_does():
    config, s, cmds = plan_of(EXAMPLE)
    silence_doc = f"projects/{s.project}/databases/{s.firestore_database}/documents/{SILENCES}/sil-0123456789ab"
    fns = functions(config, s)
    [pager] = [f for f in fns if f.entry_point == "pager"]
    assert dict(pager.env)["OPWATCH_STATE_STORE"] == f"firestore:{s.project}/{s.firestore_database}"
    stores = [cond for role, _, cond in grants(cmds, pager.service_account) if role == "roles/datastore.user"]
    assert stores and any(condition_allows(c, silence_doc) for c in stores)
    for f in fns:
        if f.trigger_topic:  # a check function
            conds = [c for role, _, c in grants(cmds, f.service_account) if role == "roles/datastore.user"]
            assert not any(condition_allows(c, silence_doc) for c in conds), f.name
