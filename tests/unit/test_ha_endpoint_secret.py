"""On AWS the conductors', sequencer nodes' and replica op-nodes' URLs come from the rpc_endpoints
secret by endpoint name, like every other endpoint: a name in the secret that only one of these
lists has is swapped, not refused as unknown."""

from __future__ import annotations

from opwatch.aws.secrets import with_endpoint_urls
from opwatch.config import parse_config

CONFIG = """
[networks.mainnet]
l1_rpc = [{ url = "https://l1.example", name = "l1" }]
l2_rpc = { url = "https://placeholder.example", name = "sequencer" }
rollup_rpc = { url = "https://placeholder.example", name = "op-node" }
l1_chain_id = 1
l2_chain_id = 10
block_time = "2s"
conductors = [{ url = "https://placeholder.example", name = "conductor-0" }]
sequencer_nodes = [{ url = "https://placeholder.example", name = "op-node-seq-0" }]
rollup_nodes = [{ url = "https://placeholder.example", name = "replica-0" }]
"""


def test_ha_and_replica_endpoints_come_from_the_secret() -> None:
    config = parse_config(CONFIG)
    swapped = with_endpoint_urls(config, '{"conductor-0": "https://c.example/KEY-C", '
                                         '"op-node-seq-0": "https://s.example/KEY-S", '
                                         '"replica-0": "https://r.example/KEY-R"}')
    net = swapped.network("mainnet")
    assert net.conductors[0].url == "https://c.example/KEY-C"
    assert net.sequencer_nodes[0].url == "https://s.example/KEY-S"
    assert net.rollup_nodes[0].url == "https://r.example/KEY-R"
    assert config.network("mainnet").conductors[0].url == "https://placeholder.example"
