"""The anchor of docs/benchmarks.md (bench/anchor/): its Prometheus rules and configs are valid
for the real tools, its two settings differ only where they should, and on the devnet the real
Prometheus and Alertmanager (aggressive settings) deliver a webhook for a halted sequencer, and
none while it produces blocks.

Real binaries only (Debian's prometheus with promtool, prometheus-alertmanager with amtool); a
missing one fails the test with the set-up step to run.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_server import binary

from bench.anchor import ANCHOR, FAULTS, SETTINGS, Stack, Webhook, write_targets

SETTING_NAMES = sorted(SETTINGS)


def _run(*argv: str, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _load(name: str) -> Any:
    return yaml.safe_load((ANCHOR / name).read_text())


def test_promtool_and_amtool_accept_the_anchor(tmp_path):
    for item in ANCHOR.iterdir():
        shutil.copy(item, tmp_path / item.name)
    write_targets(tmp_path / "targets", {"op-node": "http://127.0.0.1:1/op-node/metrics",
                                         "op-batcher": "http://127.0.0.1:1/op-batcher/metrics",
                                         "op-geth/l2-sequencer": "http://127.0.0.1:1/op-geth/l2-sequencer/metrics"})
    for setting in SETTING_NAMES:
        (tmp_path / "targets" / f"alertmanager-{setting}.json").write_text("[]")
        out = _run(binary("promtool"), "check", "rules", f"rules-{setting}.yml", cwd=tmp_path)
        assert "SUCCESS: 5 rules found" in out
        _run(binary("promtool"), "check", "config", f"prometheus-{setting}.yml", cwd=tmp_path)
        _run(binary("amtool"), "check-config", f"alertmanager-{setting}.yml", cwd=tmp_path)


def test_the_two_settings_differ_only_in_timing():
    common, aggressive = (_load(f"rules-{s}.yml")["groups"][0]["rules"] for s in ("common", "aggressive"))
    assert [r.pop("for") for r in common] == ["1m"] * len(common)
    assert all("for" not in r for r in aggressive)
    assert common == aggressive  # the same alerts, expressions, labels and annotations
    detected_by = {a for _, alerts in FAULTS.values() for a in alerts}
    assert detected_by <= {r["alert"] for r in common}, "every fault's anchor alert is a rule"
    for setting, want in SETTINGS.items():
        prom = _load(f"prometheus-{setting}.yml")["global"]
        assert prom["scrape_interval"] == prom["evaluation_interval"] == f"{want['scrape_s']}s"
        assert _load(f"alertmanager-{setting}.yml")["route"]["group_wait"] == f"{want['group_wait_s']}s"


HEALTHY_THEN_HALTED = """
rule_files: [rules-aggressive.yml]
evaluation_interval: 5s
tests:
  - interval: 5s
    input_series:
      # 1 s blocks: at every 5 s scrape the head is 0-1 s old, then it stops at t=30 s.
      - series: 'op_node_default_refs_time{job="op-node",layer="l2",type="l2_unsafe"}'
        values: '0 5 10 15 20 25 30 30 30 30'
      - series: 'chain_head_block{job="op-geth",role="sequencer",node="l2-sequencer"}'
        values: '0 5 10 15 20 25 30 35 40 45'
      - series: 'chain_head_block{job="op-geth",role="replica",node="l2-rpc-0"}'
        values: '0 5 10 15 20 25 30 31 32 33'
    alert_rule_test:
      - eval_time: 25s
        alertname: OpNodeUnsafeHeadStalled
        exp_alerts: []
      - eval_time: 25s
        alertname: OpGethReplicaBehind
        exp_alerts: []
      - eval_time: 40s
        alertname: OpNodeUnsafeHeadStalled
        exp_alerts:
          - exp_labels: {job: op-node, layer: l2, type: l2_unsafe, severity: critical, signal: sequencer}
            exp_annotations: {summary: "op-node's unsafe head is 10 s old: the sequencer is not producing blocks"}
      - eval_time: 45s
        alertname: OpGethReplicaBehind
        exp_alerts:
          - exp_labels: {job: op-geth, role: replica, node: l2-rpc-0, severity: warning, signal: rpc}
            exp_annotations: {summary: "l2-rpc-0 is 12 blocks behind the sequencer"}
"""


def test_the_rules_fire_on_a_halted_head_and_a_lagging_replica_not_before(tmp_path):
    shutil.copy(ANCHOR / "rules-aggressive.yml", tmp_path)
    (tmp_path / "tests.yml").write_text(HEALTHY_THEN_HALTED)
    _run(binary("promtool"), "test", "rules", "tests.yml", cwd=tmp_path)


@pytest.mark.anvil
def test_real_prometheus_and_alertmanager_page_a_halted_sequencer_on_the_devnet(devnet, tmp_path):
    binary("prometheus"), binary("prometheus-alertmanager")  # a clear failure when not installed
    devnet.heal()
    devnet.wait_for(lambda: devnet.sequencer_control.active, timeout=10)
    webhook = Webhook().start()
    stack = Stack("aggressive", tmp_path / "aggressive", devnet.metrics.urls, webhook.address)
    try:
        stack.wait_ready()
        assert devnet.wait_for(stack.targets_up, timeout=90), stack.log_tail()
        # Producing blocks: several evaluations, and no alert about block production.
        assert devnet.wait_for(lambda: stack_has_evaluated(stack, times=3), timeout=90), stack.log_tail()
        assert not [a for a in stack.rule_alerts() if a["labels"]["alertname"] == "OpNodeUnsafeHeadStalled"]
        halted = time.monotonic()
        devnet.fault("halt-sequencer")
        hit = devnet.wait_for(lambda: webhook.first("aggressive", ("OpNodeUnsafeHeadStalled",), halted),
                              timeout=120, poll=0.5)
        assert hit, f"no webhook within 120 s; notifications: {webhook.notifications}\n{stack.log_tail()}"
        assert hit.status == "firing" and "OpNodeUnsafeHeadStalled" in hit.alertnames
        assert [n for n in webhook.notifications if n.at < halted and "OpNodeUnsafeHeadStalled" in n.alertnames] == []
    finally:
        devnet.heal()
        stack.close()
        webhook.close()


def stack_has_evaluated(stack: Stack, times: int) -> bool:
    """The rule group has been evaluated at least `times` times (Prometheus's own counter, read
    from its /metrics: it does not scrape itself here)."""
    import urllib.request

    with urllib.request.urlopen(f"{stack.prom_url}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("prometheus_rule_evaluations_total{"))
    return total >= times * 5  # five rules per evaluation


@pytest.mark.anvil
def test_the_devnet_serves_every_series_the_rules_read(devnet):
    """Each rule's series, under op-node's, op-batcher's and geth's names, from the URLs the
    devnet's state names; a replica and the sequencer each at their own path."""
    import json
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    urls = json.loads((devnet.workdir / "state.json").read_text())["metrics"]
    assert set(urls) >= {"op-node", "op-batcher", "op-geth/l2-sequencer", "op-geth/l2-rpc-0"}

    def samples(component: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(urls[component], timeout=10) as reply:
            text = reply.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    node = devnet.wait_for(lambda: (got := samples("op-node"))
                           and ("op_node_default_refs_time", (("layer", "l2"), ("type", "l2_safe"))) in got and got,
                           timeout=30)
    unsafe = node[("op_node_default_refs_number", (("layer", "l2"), ("type", "l2_unsafe")))]
    assert unsafe >= node[("op_node_default_refs_number", (("layer", "l2"), ("type", "l2_safe")))] > 0
    assert node[("op_node_default_refs_time", (("layer", "l2"), ("type", "l2_unsafe")))] > 1.6e9  # a unix time
    batcher = devnet.wait_for(lambda: (got := samples("op-batcher"))
                              and ("op_batcher_default_last_batcher_tx_unix", (("stage", "success"),)) in got and got,
                              timeout=30)
    assert batcher[("op_batcher_default_batcher_tx_total", (("stage", "success"),))] >= 1
    assert batcher[("op_batcher_default_balance", ())] > 0.01  # ether, not wei
    heads = {name: samples(name)[("chain_head_block", ())] for name in urls if name.startswith("op-geth/")}
    assert all(h > 0 for h in heads.values()), heads
