"""The composition roots build the pager's policy from the config alone."""

from __future__ import annotations

from opwatch.config import parse_config

NETWORK = """
[networks.devnet]
l1_rpc = "http://127.0.0.1:1"
l2_rpc = "http://127.0.0.1:2"
l1_chain_id = 900
l2_chain_id = 901
block_time = "1s"
"""
AWS = """
[aws]
runbook_base_url = "https://github.com/example/opwatch/blob/main"
"""


def test_the_aws_pager_links_runbooks_by_alerting_else_by_its_aws_setting():
    from opwatch.aws import compose

    def runbook(text: str) -> str:
        manager = compose.pager(parse_config(text), alerts_table="t", routing_key_secret="s")
        return str(manager.policy.runbook_url("docs/runbooks/rpc_sync.md"))

    assert runbook(NETWORK + AWS) == "https://github.com/example/opwatch/blob/main/docs/runbooks/rpc_sync.md"
    assert runbook(NETWORK + AWS + '[alerting]\nrunbook_base_url = "https://runbooks.example.org"\n') == \
        "https://runbooks.example.org/docs/runbooks/rpc_sync.md"
    assert runbook(NETWORK) == "docs/runbooks/rpc_sync.md"


def test_the_gcp_pager_takes_silences_and_timings_from_alerting(tmp_path):
    from opwatch.gcp import compose

    text = NETWORK + """
[alerting.checks.rpc_sync]
fire_after = 1
[[alerting.silences]]
network = "devnet"
until = "2099-01-01T00:00:00Z"
"""
    manager = compose.pager(parse_config(text), compose.registry(), state_store=f"sqlite:{tmp_path / 'a.db'}",
                            routing_key_secret="projects/p/secrets/s/versions/latest")
    assert manager.policy.timing("rpc_sync").fire.evaluations == 1
    assert manager.policy.silenced("devnet", "rpc_sync", 0.0) is not None


# What a deployment may pass a function: the config's location, secret names, its own resource
# names and which function this is. Test seams (where a stand-in is) are listed apart.
DEPLOYMENT_VARIABLES = {
    "aws/runtime.py": {"OPWATCH_CONFIG", "RPC_ENDPOINTS_SECRET", "OPWATCH_NETWORK", "OPWATCH_CHECK",
                       "FINDINGS_TOPIC_ARN", "ALERTS_TABLE", "IDEMPOTENCY_TABLE", "PAGERDUTY_SECRET",
                       "OPWATCH_REMEDIES", "REMEDY_TABLE", "MEMORY_TABLE"},
    "gcp/main.py": {"OPWATCH_CONFIG", "OPWATCH_CONFIG_SECRET", "OPWATCH_FINDINGS_TOPIC", "OPWATCH_STATE_STORE",
                    "OPWATCH_PAGERDUTY_SECRET", "OPWATCH_REMEDIES", "OPWATCH_REMEDY_STORE",
                    "OPWATCH_MEMORY_STORE"},
}
TEST_SEAMS = {"PAGERDUTY_BASE_URL", "OPWATCH_PAGERDUTY_URL"}


def test_deployed_functions_read_no_behaviour_from_their_environment():
    import re
    from pathlib import Path

    import opwatch

    root = Path(opwatch.__file__).parent
    read = re.compile(r"""(?:os\.environ(?:\.get)?[\[(]|_env\()\s*["']([A-Z0-9_]+)["']""")
    for module, allowed in DEPLOYMENT_VARIABLES.items():
        names = set(read.findall((root / module).read_text()))
        assert names - TEST_SEAMS <= allowed, (module, sorted(names - TEST_SEAMS - allowed))
