#!/usr/bin/env python3
"""The opwatch CDK app: one stack per `[aws.environments.NAME]` of the config file.

    node_modules/.bin/cdk synth -c config=opwatch.toml            # every environment
    node_modules/.bin/cdk deploy -c config=opwatch.toml opwatch-staging

cdk-nag's AwsSolutions pack runs on every synth (`-c nag=false` to skip it).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks
from opwatch.config import load_config

from infra.stack import OpwatchStack


def build(app: App) -> App:
    path = Path(app.node.try_get_context("config") or "opwatch.toml")
    config = load_config(path)
    for env in config.section("aws").environments.values():
        OpwatchStack(app, f"opwatch-{env.name}", config=config, config_text=path.read_text(), environment=env,
                     env=Environment(account=env.account, region=env.region))
    if str(app.node.try_get_context("nag")).lower() != "false":
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build(App()).synth()
