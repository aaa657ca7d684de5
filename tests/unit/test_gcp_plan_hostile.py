"""The rendered plan under hostile config values: every value is validated whole at load, and
what reaches the script is shell-quoted, comments included (a newline in a `# comment` would
start a command in the script an operator reviews and runs)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opwatch.config import ConfigError, parse_config
from opwatch.deploy.gcp_plan import Step, render_plan, shell_line, to_shell

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "gcp" / "example.toml").read_text()

# Where a config value lands in the plan: (dotted path, the example's TOML line to replace).
FIELDS = {
    "gcp.project": 'project = "opwatch-example"\nproject_number',
    "gcp.region": 'region = "europe-west1"',
    "gcp.prefix": 'prefix = "opwatch"',
    "gcp.source": 'source = "build/gcp"',
    "gcp.pagerduty_secret": 'pagerduty_secret = "opwatch-pagerduty-routing-key"',
    "gcp.config_secret": 'config_secret = "opwatch-config"',
    "heartbeat.gcp.bucket": 'gcp = { bucket = "opwatch-example-heartbeats"',
    "remediation.networks.mainnet.topup.secret":
        'secret = "gcp-secretmanager:projects/opwatch-example/secrets/opwatch-funder-key"',
    "remediation.networks.mainnet.snapshot.bucket": 'bucket = "opwatch-example-snapshots"',
}


def with_value(path: str, value: str) -> str:
    line = FIELDS[path]
    key = line.split(" = ")[0]
    old = line.split('"')[1]
    prefix = "gcp-secretmanager:projects/opwatch-example/secrets/" if path.endswith("topup.secret") else ""
    new = line.replace(f'"{old}"', json.dumps(prefix + value))  # a TOML basic string: JSON escapes are TOML's
    assert key and line in EXAMPLE
    return EXAMPLE.replace(line, new, 1)


def parsed_back(text: str, steps: list[Step]) -> None:
    """The script is exactly: the header, then per step one comment line and its command(s)."""
    lines = text.split("\n")  # as bash reads it: only a newline ends a line
    assert lines.pop() == ""
    assert lines[:2] == ["#!/usr/bin/env bash",
                         "# Rendered by `opwatch gcp deploy --dry-run`: review, then run (re-running converges)."]
    body = lines[lines.index("set -euo pipefail") + 2:]
    for step in steps:
        comment, *rest = body[: 1 + shell_line(step).count("\n") + 1]
        body = body[1 + len(rest):]
        assert comment == f"# {step.comment}" and "\n" not in step.comment and step.comment.isprintable()
        words = shlex.split(" ".join(rest))
        q = list
        if step.require:
            assert words[: len(step.describe)] == q(step.describe)
            assert words[len(step.describe):] == [">/dev/null", "||", "{", "echo", step.require, ">&2;", "exit",
                                                  "1;", "}"]
        elif step.describe and step.update:
            assert words == ["if", *step.describe, ">/dev/null", "2>&1;", "then", *step.update, "else",
                             *step.create, "fi"]
        elif step.describe:
            assert words == [*step.describe, ">/dev/null", "2>&1", "||", *step.create]
        else:
            assert words == q(step.create)
    assert body == []


HOSTILE = st.text(alphabet=st.sampled_from([*"ab-_.\n\r;$()`'\" |&#\\{}*\t", "\u2028", "\x00"]),
                  min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(sorted(FIELDS)), value=HOSTILE)
def test_hostile_values_are_rejected_by_path_or_rendered_as_exactly_the_intended_commands(path, value):
    try:
        config = parse_config(with_value(path, value))
        steps = render_plan(config, config.section("gcp").with_overrides())
    except ConfigError as exc:
        assert any(p.startswith(path) for p in exc.problems), exc.problems
        return
    text = to_shell(steps, header="config: example.toml")
    parsed_back(text, steps)


@pytest.mark.parametrize("path", sorted(FIELDS))
@pytest.mark.parametrize("value", ["ok-name\n", "x\ntouch /tmp/opwatch-pwned", "a;b", "$(id)", "`id`", "a b"])
def test_shell_metacharacters_and_trailing_newlines_are_config_errors_naming_the_field(path, value):
    with pytest.raises(ConfigError) as exc:
        config = parse_config(with_value(path, value))
        render_plan(config, config.section("gcp").with_overrides())
    assert any(p.startswith(path) for p in exc.value.problems), exc.value.problems


def test_the_example_renders_as_exactly_its_intended_commands():
    config = parse_config(EXAMPLE)
    steps = render_plan(config, config.section("gcp").with_overrides())
    parsed_back(to_shell(steps, header="config: example.toml"), steps)


def test_a_comment_that_could_break_its_line_is_refused_not_rendered():
    with pytest.raises(ValueError, match="comment"):
        to_shell([Step("bucket gs://x\ntouch /tmp/opwatch-pwned", create=("true",))])


def test_the_cli_reports_a_hostile_policy_value_as_a_config_error(tmp_path, capsys):
    import argparse

    from opwatch.deploy import gcp_cli

    path = tmp_path / "c.toml"
    path.write_text(with_value("remediation.networks.mainnet.snapshot.bucket", "b\ntouch /tmp/opwatch-pwned"))
    parser = argparse.ArgumentParser()
    gcp_cli.add_parser(parser.add_subparsers(dest="command"))
    assert gcp_cli.run(parser.parse_args(["gcp", "deploy", "--config", str(path), "--dry-run"])) == 2
    out = capsys.readouterr()
    assert "remediation.networks.mainnet.snapshot.bucket" in out.err and "touch" not in out.out


def test_a_filter_attribute_key_with_a_trailing_newline_is_not_filterable():
    from opwatch.gcp import filters

    with pytest.raises(ValueError, match="not filterable"):
        filters.equals("network\n", "mainnet")


def test_core_validators_match_whole_values():
    from opwatch.config import validate_address

    with pytest.raises(ValueError):
        validate_address("0x" + "ab" * 20 + "\n")
    with pytest.raises(ConfigError, match=r"networks\.mainnet"):
        parse_config(EXAMPLE.replace("[networks.mainnet]", '[networks."mainnet\\n"]', 1))
    with pytest.raises(ConfigError, match=r"networks\.mainnet\.l2_rpc"):
        parse_config(EXAMPLE.replace('l2_rpc = "http://sequencer:8545"', 'l2_rpc = "http://sequencer:8545/\\nx"'))
