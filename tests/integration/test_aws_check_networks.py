"""One check function over several networks (`[aws] layout = "per_check"`, the default), run
through the real Lambda handler against a moto server and the real devnet.

Three networks: `devnet` and `l3` read the devnet (so a halted sequencer shows on both), `dark`
names an endpoint where nothing listens. What the on-call engineer needs from one function over
many networks: each network's finding is its own (a dead network is `unknown` on its own and
never hides the others' results), each is published with its own `network` attribute (so
subscribers still filter per network), a fault reaches every network it touches in the same
run, and a manual invoke may run one of the function's networks but none it was not deployed for.
"""

from __future__ import annotations

import json
import time

import pytest
import test_aws_lambda
from test_aws_lambda import LambdaContext, drain, heal_sequencer, subscribe_queue

# The moto server and the handlers' environment, as test_aws_lambda sets them up.
moto_endpoint = test_aws_lambda.moto_endpoint
aws = test_aws_lambda.aws

pytestmark = pytest.mark.anvil

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback


def three_networks(devnet) -> str:
    text = devnet.config_text()
    dark = text.replace("[networks.devnet", "[networks.dark")
    dark = "\n".join(f'l2_rpc = "{DEAD}"' if line.startswith("l2_rpc = ") else line for line in dark.splitlines())
    return text + "\n" + text.replace("[networks.devnet", "[networks.l3") + "\n" + dark + "\n"


def statuses(envelopes: list[dict]) -> dict[str, str]:
    out = {}
    for e in envelopes:
        attributes = {k: v["Value"] for k, v in e["MessageAttributes"].items()}
        body = json.loads(e["Message"])
        assert attributes["network"] == body["network"]  # what subscribers filter on is the finding's network
        out[body["network"]] = body["status"]
    return out


def deploy(devnet, aws, monkeypatch, config, text: str, name: str, networks: str) -> tuple[str, str]:
    """The check function's environment as the CDK app sets it (its networks comma-joined), its
    findings topic with a queue receiving everything, the sequencer healthy; returns the topic
    and the queue."""
    from opwatch.aws import runtime

    config.write_text(text)
    topic = aws("sns").create_topic(Name=f"opwatch-findings-{name}")["TopicArn"]
    everything = subscribe_queue(aws, topic, f"{name}-all", None)
    for key, value in {"OPWATCH_CONFIG": str(config), "OPWATCH_NETWORK": networks,
                       "OPWATCH_CHECK": "sequencer_liveness", "FINDINGS_TOPIC_ARN": topic}.items():
        monkeypatch.setenv(key, value)
    heal_sequencer(devnet, config)
    runtime.reset()
    return topic, everything


def test_one_function_watches_each_network_on_its_own(devnet, aws, tmp_path, monkeypatch):
    from opwatch.aws import check_handler

    config = tmp_path / "opwatch.toml"
    topic, everything = deploy(devnet, aws, monkeypatch, config, three_networks(devnet), "networks", "devnet,l3,dark")
    only_l3 = subscribe_queue(aws, topic, "networks-l3", {"network": ["l3"]})

    reply = check_handler.handler({}, LambdaContext())
    assert reply["network"] == "devnet,l3,dark"
    assert reply["status"] == {"devnet/sequencer": "ok", "l3/sequencer": "ok", "dark/sequencer": "unknown"}
    assert statuses(drain(aws, everything)) == {"devnet": "ok", "l3": "ok", "dark": "unknown"}
    assert statuses(drain(aws, only_l3)) == {"l3": "ok"}

    # A halt shows on every network that reads the halted sequencer, in the same run.
    devnet.fault("halt-sequencer")
    try:
        time.sleep(6.5)  # past the devnet's 5 s sequencer_max_head_age
        reply = check_handler.handler({}, LambdaContext())
    finally:
        heal_sequencer(devnet, config)
    assert reply["status"] == {"devnet/sequencer": "firing", "l3/sequencer": "firing", "dark/sequencer": "unknown"}
    assert statuses(drain(aws, everything)) == {"devnet": "firing", "l3": "firing", "dark": "unknown"}

    # A manual invoke may run some of its networks, never one it was not deployed for.
    reply = check_handler.handler({"network": "l3"}, LambdaContext())
    assert reply["network"] == "l3" and statuses(drain(aws, everything)) == {"l3": "ok"}
    with pytest.raises(ValueError, match="asks for 'mainnet'"):
        check_handler.handler({"network": "l3,mainnet"}, LambdaContext())
    assert drain(aws, everything) == []


def test_a_dead_network_does_not_hold_the_others_past_the_rpc_deadline(devnet, aws, tmp_path, monkeypatch):
    """A network whose endpoint never answers bounds the run to its RPC deadline, not longer, and
    the others' findings are the same as without it."""
    import socket
    import threading

    from opwatch.aws import check_handler

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections (the kernel does), never answers
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                pass

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    text = three_networks(devnet).replace(f'l2_rpc = "{DEAD}"', f'l2_rpc = "http://127.0.0.1:{silent.getsockname()[1]}"')
    _, everything = deploy(devnet, aws, monkeypatch, tmp_path / "opwatch.toml",
                           text + '\n[rpc]\ntimeout = "2s"\nretries = 0\n', "hung", "devnet,l3,dark")
    try:
        started = time.monotonic()
        reply = check_handler.handler({}, LambdaContext())
        took = time.monotonic() - started
    finally:
        stop.set()
        holder.join(5)
        for s in (*accepted, silent):
            s.close()
    assert reply["status"] == {"devnet/sequencer": "ok", "l3/sequencer": "ok", "dark/sequencer": "unknown"}
    assert statuses(drain(aws, everything)) == {"devnet": "ok", "l3": "ok", "dark": "unknown"}
    # The hung network's 2 s deadline, not one deadline per network or per request in turn.
    assert 2.0 <= took < 2.0 + 3.0, took


def test_a_defect_on_one_network_publishes_the_others_then_fails_the_run(devnet, aws, tmp_path, monkeypatch):
    """A defect in one network's evaluation (not the chain's answer: opwatch's own bug) is that
    network's `unknown`; the others' findings are published, and then the invocation fails, so
    the function's Errors alarm says a network went unwatched (no heartbeat for it)."""
    import dataclasses

    from opwatch.aws import check_handler
    from opwatch.checks import CHECKS
    from opwatch.runner import EvaluationError

    original = CHECKS["sequencer_liveness"]

    def measure(ctx, shared, target):
        if ctx.network.name == "l3":
            raise IndexError("list index out of range")
        return original.measure(ctx, shared, target)

    monkeypatch.setitem(CHECKS, "sequencer_liveness", dataclasses.replace(original, measure=measure))
    _, everything = deploy(devnet, aws, monkeypatch, tmp_path / "opwatch.toml", three_networks(devnet), "defect",
                           "devnet,l3")
    with pytest.raises(EvaluationError, match="sequencer_liveness on l3: IndexError"):
        check_handler.handler({}, LambdaContext())
    envelopes = drain(aws, everything)
    assert statuses(envelopes) == {"devnet": "ok", "l3": "unknown"}
    [l3] = [json.loads(e["Message"]) for e in envelopes if json.loads(e["Message"])["network"] == "l3"]
    assert "opwatch failed evaluating sequencer_liveness (IndexError)" in l3["summary"]
