"""Shared helpers for the remedy tests: a config text for one network, a plain anvil L1.

Keys are anvil's published test keys (never use elsewhere): account 0 is the funder.
"""

from __future__ import annotations

from pathlib import Path

from opwatch.config import Config, parse_config

# anvil's published test keys, never use elsewhere.
FUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BATCHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PROPOSER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
L1_CHAIN_ID = 900


def config_text(l1_url: str = "http://127.0.0.1:1", remediation: str = "", l2_url: str = "http://127.0.0.1:2",
                extra_network: str = "") -> str:
    return f"""
[networks.devnet]
l1_rpc = ["{l1_url}"]
l2_rpc = "{l2_url}"
l1_chain_id = {L1_CHAIN_ID}
l2_chain_id = 901
block_time = "1s"
batcher = "{BATCHER}"
proposer = "{PROPOSER}"
{extra_network}
{remediation}
"""


def topup_section(store: Path | str, auto: bool = False, approval: str = "manual", target: float = 10.0,
                  per_tx: float = 5.0, per_day: float = 8.0, gas_gwei: float = 100.0) -> str:
    return f"""
[remediation]
store = "sqlite:{store}"
[remediation.networks.devnet]
approval = "{approval}"
[remediation.networks.devnet.topup]
auto = {str(auto).lower()}
funder = "{FUNDER}"
secret = "env:OPWATCH_FUNDER_KEY"
target_balance_eth = {target}
max_per_tx_eth = {per_tx}
max_per_day_eth = {per_day}
max_gas_price_gwei = {gas_gwei}
priority_fee_gwei = 1
receipt_timeout = "20s"
"""


def load(text: str) -> Config:
    return parse_config(text, source="<test>")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto():
    """A moto server on a free loopback port, with no resources; returns (server, endpoint URL).
    Stop it with .stop().

    Every moto server of one process shares moto's in-process backends, so a table or topic
    that an earlier test's server created would still be there: each new server starts from
    moto's documented reset endpoint (servers here never outlive their module).
    """
    import urllib.request

    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST"),
                           timeout=30).close()
    return server, endpoint


def aws_client(service: str, endpoint: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def freshness(provider: object, now: float, max_age: str = "1h") -> object:
    """snapshot_freshness on devnet as a runtime runs it: the config's [remediation] snapshot
    policy (max_age), and `provider` built by the runtime's registry under the policy's name."""
    from opwatch.backends import core_registry
    from opwatch.checks import Context, evaluate, snapshot_freshness

    config = load(config_text(remediation=f'[remediation.networks.devnet.snapshot]\nprovider = "s3"\n'
                                          f'bucket = "snapshots"\nmax_age = "{max_age}"\n'))
    registry = core_registry()
    registry.register("snapshot", "s3", lambda _policy, _seams: provider)
    ctx = Context(config.network("devnet"), clock=lambda: now, config=config, registry=registry)
    return evaluate(snapshot_freshness.CHECK, ctx)[0]
