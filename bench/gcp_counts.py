"""What the rendered gcloud plan deploys, counted: functions, scheduler jobs, subscriptions, alert
conditions (the scale bench calls `plan_counts`; tests/unit/test_gcp_plan_scale.py checks it).

    from bench.gcp_counts import plan_counts, scale_config
    plan_counts(scale_config(100))   # {"networks": 100, "functions": 15, "scheduler_jobs": 13, ...}

The counts come from the plan itself (`render_plan`, the steps `opwatch gcp deploy --dry-run`
prints), not from a model of it: a function is a `gcloud functions deploy` step, a scheduler job a
`gcloud scheduler jobs create`, a subscription a `gcloud pubsub subscriptions create`, an alert
condition one condition of the self-watch policies the last step converges.

`scale_config(n)` is gcp/example.toml's `mainnet` copied n times (`l2` and the L3s `l3-001`, …,
each settling on `l2`), with distinct chain ids; every other network runs its remedies on GCP
(the example's top-up, snapshot and failover), so a plan at n networks routes remedies for some
networks and not for others. It has no `config_secret`, unlike the example: at 100 networks the
TOML is about 92 KB, over the 64 KiB Secret Manager keeps in one secret version (the plan refuses
such a file: `check_config_secret_size`), so the functions read it from their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A project id and number for configs without a [gcp] section (the bench's own configs): the plan
# needs both to render, and neither changes what is counted.
PROJECT, PROJECT_NUMBER = "opwatch-bench", "123456789012"

_L2 = """
[networks.{name}]
l1_rpc = {l1_rpc}
l2_rpc = "http://{name}-sequencer:8545"
rollup_rpc = "http://{name}-sequencer:9545"
rpc_nodes = ["http://{name}-rpc-1:8545", {{ url = "https://{name}-rpc-2.example/KEY", name = "rpc-2" }}]
l1_chain_id = {l1_chain_id}
l2_chain_id = {l2_chain_id}
block_time = "2s"
batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"
batch_inbox = "0xFF00000000000000000000000000000000000010"
proposer = "0x473300df21D047806A082244b417f96b32f13A33"
l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"
optimism_portal = "0xbEb5Fc579115071764c7423A4f12eDde41f106Ed"
"""

_REMEDIES = """
[remediation.networks.{name}]
runs_on = "gcp"

[remediation.networks.{name}.topup]
funder = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
signer = "local"
secret = "gcp-secretmanager:projects/opwatch-example/secrets/opwatch-funder-key"
target_balance_eth = 10.0
max_per_tx_eth = 5.0
max_per_day_eth = 20.0
max_gas_price_gwei = 100
recipients = ["batcher", "proposer"]

[remediation.networks.{name}.snapshot]
provider = "gcs"
bucket = "opwatch-example-snapshots"
retention = 7
max_age = "1d"

[remediation.networks.{name}.failover]
strategy = "admin"
standby_admin = "http://{name}-op-node-b:9545"
standby_rpc = "http://{name}-op-geth-b:8545"
"""

_GCP = """
[schedules]
proposer_freshness = "5m"

[gcp]
project = "opwatch-example"
project_number = "123456789012"
region = "europe-west1"
runtime = "python312"
prefix = "opwatch"
source = "build/gcp"
pagerduty_secret = "opwatch-pagerduty-routing-key"
alarm_emails = ["oncall@example.com"]
"""

L2_CHAIN_ID = 10


def network_names(n: int) -> list[str]:
    """`l2`, then its L3s `l3-001` … `l3-<n-1>`."""
    return ["l2", *(f"l3-{i:03d}" for i in range(1, n))]


def scale_config(n: int) -> str:
    """A config of n networks (an L2 and n - 1 L3s on it); even-numbered ones (the L2 first) run
    their remedies on GCP."""
    if n < 1:
        raise ValueError("at least one network")
    parts = []
    for i, name in enumerate(network_names(n)):
        if i == 0:
            l1 = '["https://l1-a.example", "https://l1-b.example"]'
            parts.append(_L2.format(name=name, l1_rpc=l1, l1_chain_id=1, l2_chain_id=L2_CHAIN_ID))
        else:  # an L3 settles on the L2: its "L1" is the L2's RPC and chain id
            parts.append(_L2.format(name=name, l1_rpc='"http://l2-sequencer:8545"', l1_chain_id=L2_CHAIN_ID,
                                    l2_chain_id=424_000 + i))
    parts.append(_GCP)
    parts += [_REMEDIES.format(name=name) for i, name in enumerate(network_names(n)) if i % 2 == 0]
    return "".join(parts)


def plan_counts(config_text: str) -> dict[str, Any]:
    """What the plan rendered from this config deploys (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "functions"))
    from opwatch.config import parse_config
    from opwatch.deploy import gcp_monitoring
    from opwatch.deploy.gcp import GcpSettings
    from opwatch.deploy.gcp_plan import functions, render_plan, to_shell

    config = parse_config(config_text)
    settings: GcpSettings = config.section("gcp")
    settings = settings.with_overrides(settings.project or PROJECT, None, settings.project_number or PROJECT_NUMBER)
    steps = render_plan(config, settings)

    def count(*prefix: str) -> int:
        return sum(1 for step in steps if step.create[1:1 + len(prefix)] == prefix)

    subscriptions = [step.create for step in steps if step.create[1:4] == ("pubsub", "subscriptions", "create")]
    filters = [a.removeprefix("--message-filter=") for argv in subscriptions for a in argv
               if a.startswith("--message-filter=")]
    fns = functions(config, settings)
    # The self-watch step: bash -c CONVERGE self-watch <project> <emails> (<title> <policy JSON>)...
    [watch] = [step.create for step in steps if step.create[:3] == ("bash", "-c", gcp_monitoring.CONVERGE)]
    policies = [json.loads(text) for text in watch[7::2]]
    return {
        "networks": len(config.networks),
        "functions": count("functions", "deploy"),
        "check_functions": sum(1 for f in fns if f.trigger_topic),
        "remedy_functions": sum(1 for f in fns if f.entry_point == "remedy"),
        "scheduler_jobs": count("scheduler", "jobs", "create", "pubsub"),
        "topics": count("pubsub", "topics", "create"),
        "subscriptions": len(subscriptions),
        "alert_policies": len(policies),
        "alert_conditions": sum(len(p["conditions"]) for p in policies),
        "filters_without_network_clause": sum(1 for f in filters if "attributes.network =" not in f),
        "longest_filter_bytes": max((len(f.encode()) for f in filters), default=0),
        "steps": len(steps),
        "plan_bytes": len(to_shell(steps).encode()),
        "longest_command_bytes": max(len(" ".join(a).encode()) for step in steps for a in step.argvs()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gcp_counts", description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", type=int, default=[1, 10, 30, 100])
    args = parser.parse_args(argv)
    rows = [plan_counts(scale_config(n)) for n in args.networks]
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
