"""Fixtures for tests/deployed: one config file (deployed.toml after the devnet's endpoints),
the CDK app synthesized and the gcloud plan rendered from it once per session, moto server,
the Google APIs stand-in, the PagerDuty stand-in."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


KEYLESS = "http://127.0.0.1:9/keyless"  # nothing listens there: a config URL that is not in a secret


def keyed_urls(devnet) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Endpoint name -> the devnet's real URL, for every endpoint the deployed config holds keyless:
    the sequencer (`sequencer`) and each L1 endpoint (`l1-0`, `l1-1`, ...). On AWS this is the
    `rpc_endpoints` secret's value; on GCP `keyed_config_text` (the config secret) holds them."""
    text = devnet.config_text()
    sequencer = re.search(r'^l2_rpc = "(.*)"$', text, re.M)
    l1 = re.search(r"^l1_rpc = \[(.*)\]$", text, re.M)
    assert sequencer is not None and l1 is not None
    return {"sequencer": sequencer.group(1),
            **{f"l1-{i}": url for i, url in enumerate(re.findall(r'"([^"]+)"', l1.group(1)))}}


def l1_client(devnet):  # type: ignore[no-untyped-def]
    """A JSON-RPC client on the devnet's L1 (its keyed URL): for setting up and reading balances."""
    from opwatch.chain.rpc import RpcClient
    from opwatch.config import Endpoint

    return RpcClient(Endpoint(keyed_urls(devnet)["l1-0"], "l1-0"))


FUNDER_TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil's account 0: test only
HEALTHY_WEI = 10_000 * 10**18  # the devnet's healthy wallet balance; the top-up targets are 12,000 ETH


def l1_balance(devnet, address: str) -> int:  # type: ignore[no-untyped-def]
    return int(l1_client(devnet).call("eth_getBalance", address, "latest"), 16)


def reset_l1_balance(devnet, address: str) -> int:  # type: ignore[no-untyped-def]
    """The wallet back at the devnet's healthy 10,000 ETH (another top-up may have run first)."""
    l1_client(devnet).call("anvil_setBalance", address, hex(HEALTHY_WEI))
    return HEALTHY_WEI


def topup_request(request_id: str) -> dict[str, Any]:
    """An approved top-up of the batcher, as `opwatch remediate topup --print-request` prints it."""
    return {"remedy": "topup", "network": "devnet", "request_id": request_id, "target": "batcher",
            "approved_by": "alice"}


def keyless_url(name: str) -> str:
    return f"{KEYLESS}/{name}"


def network_block(devnet, name: str = "devnet") -> str:  # type: ignore[no-untyped-def]
    """The devnet's [networks.devnet] keys under [networks.<name>], the sequencer and the L1
    endpoints as keyless named URLs (`keyed_urls` names them)."""
    network = devnet.config_text().split("[networks.devnet.thresholds]")[0]
    names = keyed_urls(devnet)
    network = re.sub(r'^l2_rpc = ".*"$', f'l2_rpc = {{ url = "{keyless_url("sequencer")}", name = "sequencer" }}',
                     network, flags=re.M)
    l1 = ", ".join(f'{{ url = "{keyless_url(n)}", name = "{n}" }}' for n in names if n.startswith("l1-"))
    network = re.sub(r"^l1_rpc = \[.*\]$", lambda _: f"l1_rpc = [{l1}]", network, flags=re.M)
    return network.replace("[networks.devnet]", f"[networks.{name}]")


@pytest.fixture(scope="session")
def deployed_config(devnet, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """`network_block(devnet)`, then deployed.toml."""
    path = tmp_path_factory.mktemp("deployed") / "opwatch.toml"
    path.write_text(network_block(devnet) + "\n" + (HERE / "deployed.toml").read_text())
    return path


@pytest.fixture(scope="session")
def aws_synth(deployed_config, tmp_path_factory):  # type: ignore[no-untyped-def]
    from aws_deployed import synthesize

    outdir = tmp_path_factory.mktemp("cdk.out")
    [template] = synthesize(deployed_config, outdir).values()
    return template, outdir


def sequencer_url(devnet) -> str:  # type: ignore[no-untyped-def]
    """The devnet's sequencer URL: the keyed one, which only secrets hold."""
    return keyed_urls(devnet)["sequencer"]


@pytest.fixture(scope="session")
def keyed_config_text(deployed_config, devnet) -> str:  # type: ignore[no-untyped-def]
    """The same config with the keyed URLs in place of the keyless ones: on GCP, the config secret's value."""
    return keyed(deployed_config.read_text(), devnet)


def keyed(config_text: str, devnet) -> str:  # type: ignore[no-untyped-def]
    """`config_text` with each keyless URL replaced by the devnet's keyed one."""
    for name, url in keyed_urls(devnet).items():
        config_text = config_text.replace(f'"{keyless_url(name)}"', f'"{url}"')
    return config_text


@pytest.fixture(scope="session")
def gcp_plan(deployed_config, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The gcloud plan rendered from the config and the bundle its functions deploy from."""
    from gcp_deployed import GcpPlan, bundle, render

    return GcpPlan(render(deployed_config)), bundle(deployed_config, tmp_path_factory.mktemp("gcp") / "bundle")


@pytest.fixture
def moto() -> Iterator[str]:
    from remedies_fixtures import start_moto

    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture
def events():  # type: ignore[no-untyped-def]
    from pagerduty_standin import EventsStandIn

    server = EventsStandIn.start()
    yield server
    server.stop()
