"""Fixtures for tests/deployed: one config file (deployed.toml after the devnet's endpoints),
the CDK app synthesized and the gcloud plan rendered from it once per session, moto server,
the Google APIs stand-in, the PagerDuty stand-in."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def deployed_config(devnet, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The devnet's [networks.devnet] with the sequencer as a keyless named URL, then deployed.toml."""
    network = devnet.config_text().split("[networks.devnet.thresholds]")[0]
    network = re.sub(r'^l2_rpc = ".*"$', 'l2_rpc = { url = "http://127.0.0.1:9/keyless", name = "sequencer" }',
                     network, flags=re.M)
    path = tmp_path_factory.mktemp("deployed") / "opwatch.toml"
    path.write_text(network + "\n" + (HERE / "deployed.toml").read_text())
    return path


@pytest.fixture(scope="session")
def aws_synth(deployed_config, tmp_path_factory):  # type: ignore[no-untyped-def]
    from aws_deployed import synthesize

    outdir = tmp_path_factory.mktemp("cdk.out")
    [template] = synthesize(deployed_config, outdir).values()
    return template, outdir


def sequencer_url(devnet) -> str:  # type: ignore[no-untyped-def]
    """The devnet's sequencer URL: the keyed one, which only secrets hold."""
    found = re.search(r'^l2_rpc = "(.*)"$', devnet.config_text(), re.M)
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="session")
def keyed_config_text(deployed_config, devnet) -> str:  # type: ignore[no-untyped-def]
    """The same config with the sequencer's keyed URL: on GCP, the config secret's value."""
    return deployed_config.read_text().replace('"http://127.0.0.1:9/keyless"', f'"{sequencer_url(devnet)}"')


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
