"""Secrets from AWS Secrets Manager, through Powertools Parameters (cached per container).

`SecretsManagerSource` is the alerting `SecretSource` seam (a callable returning the value),
e.g. the PagerDuty routing key; `SecretsManagerKeys` is the signer's (`aws-secretsmanager:ID`,
read at each signature, never cached). `with_endpoint_urls` swaps the URLs of named endpoints (the
networks' and the failover's) for the ones held in a secret, so RPC API keys never sit in the
bundled config file. Values are never logged, put in errors, or kept anywhere but Powertools'
in-memory cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..config import Config, ConfigError, Endpoint, Network
from ..remedies.signer import SignerError
from .client import client

# Five minutes: a rotated PagerDuty key or RPC URL is picked up within one incident's
# first few evaluations, while a once-a-minute function reads the secret about 12 times
# an hour instead of 60.
DEFAULT_MAX_AGE_S = 300
# `FailoverPolicy` fields that are endpoints (`{url, name}` in the config, like any other).
FAILOVER_ENDPOINTS = ("active_admin", "standby_admin", "standby_rpc", "conductor_rpc", "replacement_rpc")


class SecretsManagerSource:
    def __init__(self, secret_id: str, max_age: int = DEFAULT_MAX_AGE_S, client: Any = None) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self._client = client
        self._provider: Any = None

    def __repr__(self) -> str:  # the id only, never the value
        return f"SecretsManagerSource({self.secret_id!r})"

    def __call__(self) -> str:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._client)
        value = self._provider.get(self.secret_id, max_age=self.max_age)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"secret {self.secret_id} is empty: set its value (see docs/aws.md)")
        return value.strip()


class SecretsManagerKeys:
    """`aws-secretsmanager:ID`: read with `secretsmanager:GetSecretValue` at call time."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def get(self, name: str) -> str:
        if self._client is None:
            self._client = client("secretsmanager")
        try:
            return str(self._client.get_secret_value(SecretId=name)["SecretString"]).strip()
        except Exception as exc:  # a boto error must not carry the secret id's value onwards either
            raise SignerError(f"cannot read secret {name!r}: {type(exc).__name__}") from None


def with_endpoint_urls(config: Config, secret_json: str) -> Config:
    """The config with each endpoint named in the secret (`{"name": "https://..."}`) at the secret's URL.

    Names in the secret that no endpoint has are an error (a typo would silently leave the
    keyless placeholder URL in use); the message lists names only, never URLs.
    """
    try:
        urls = json.loads(secret_json)
    except ValueError:
        raise ConfigError(["rpc_endpoints secret: not a JSON object"]) from None
    if not isinstance(urls, Mapping) or not all(isinstance(v, str) and v.startswith(("http://", "https://"))
                                                for v in urls.values()):
        raise ConfigError(["rpc_endpoints secret: expected {\"<endpoint name>\": \"<http(s) URL>\"}"])
    used: set[str] = set()

    def swap(endpoint: Endpoint) -> Endpoint:
        if endpoint.name in urls:
            used.add(endpoint.name)
            return Endpoint(url=urls[endpoint.name], name=endpoint.name)
        return endpoint

    def network(net: Network) -> Network:
        return replace(net, l1_rpc=tuple(map(swap, net.l1_rpc)), l2_rpc=swap(net.l2_rpc),
                       rollup_rpc=swap(net.rollup_rpc) if net.rollup_rpc else None,
                       rpc_nodes=tuple(map(swap, net.rpc_nodes)),
                       trusted_l2_rpc=tuple(map(swap, net.trusted_l2_rpc)),
                       conductors=tuple(map(swap, net.conductors)),
                       sequencer_nodes=tuple(map(swap, net.sequencer_nodes)),
                       rollup_nodes=tuple(map(swap, net.rollup_nodes)))

    swapped = replace(config, networks={name: network(net) for name, net in config.networks.items()})
    if "remediation" in config.sections:  # the failover's admin, conductor and replacement endpoints
        remediation = config.sections["remediation"]

        def remedies(net: Any) -> Any:
            if net.failover is None:
                return net
            fo = net.failover
            return replace(net, failover=replace(fo, **{k: swap(getattr(fo, k)) for k in FAILOVER_ENDPOINTS
                                                         if getattr(fo, k) is not None}))

        swapped = replace(swapped, sections={**config.sections, "remediation": replace(
            remediation, networks={name: remedies(net) for name, net in remediation.networks.items()})})
    unused = sorted(set(urls) - used)
    if unused:
        raise ConfigError([f"rpc_endpoints secret: no endpoint is named {', '.join(map(repr, unused))}"])
    return swapped
