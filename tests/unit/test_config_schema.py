"""The JSON Schema of the config (docs/opwatch.schema.json) and `opwatch config validate`."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from opwatch.config_schema import json_schema, render

from tests.unit.test_config import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "gcp/example.toml", ROOT / "infra/example.toml"]

# The bad configs of test_config.py. A wrong EIP-55 checksum needs keccak, which a JSON Schema
# cannot compute: only `opwatch config validate` refuses it (tested below).
BAD = [
    ('sequencer_max_head_age = "30s"', 'sequencer_max_head_agee = "30s"'),
    ('batcher = "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985"', 'batcher = "0x1234"'),
    ("l2_chain_id = 10", 'l2_chain_id = "10"'),
    ("l2_chain_id = 10\n", ""),
    ('block_time = "2s"', 'block_time = "2 fortnights"'),
    ("rpc_max_lag_blocks = 20", "rpc_max_lag_blocks = -1"),
    ('l2_rpc = "http://sequencer:8545"', 'l2_rpc = "sequencer:8545"'),
    ('l1_rpc = ["https://l1-a.example", "https://l1-b.example"]', "l1_rpc = []"),
    ('l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"',
     'l2_output_oracle = "0xdfe97868233d1aa22e815a266982f2cf17685a27"\n'
     'dispute_game_factory = "0xe5965Ab5962eDc7477C8520243A95517CD252fA9"'),
]


def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_the_generated_one() -> None:
    assert (ROOT / "docs/opwatch.schema.json").read_text() == render(), \
        "regenerate: opwatch config schema > docs/opwatch.schema.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_schema_accepts_the_examples(path: Path) -> None:
    errors = list(validator().iter_errors(tomllib.loads(path.read_text())))
    assert not errors, [e.message for e in errors]


def test_schema_accepts_the_test_example_and_a_bare_block_time() -> None:
    v = validator()
    assert not list(v.iter_errors(tomllib.loads(EXAMPLE)))
    assert not list(v.iter_errors(tomllib.loads(EXAMPLE.replace('block_time = "2s"', "block_time = 2"))))
    assert not list(v.iter_errors(tomllib.loads(EXAMPLE.replace('"72h"', '"2d12h"'))))


@pytest.mark.parametrize("edit", BAD, ids=lambda e: e[1][:30] or "missing")
def test_schema_rejects_the_bad_configs(edit: tuple[str, str]) -> None:
    old, new = edit
    assert old in EXAMPLE
    assert list(validator().iter_errors(tomllib.loads(EXAMPLE.replace(old, new))))


def opwatch(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opwatch.cli.main", *args], capture_output=True, text=True,
                          input=stdin, timeout=60)


def test_schema_command_prints_the_committed_schema() -> None:
    proc = opwatch("config", "schema")
    assert proc.returncode == 0 and json.loads(proc.stdout) == json_schema()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_validate_accepts_the_examples(path: Path) -> None:
    proc = opwatch("config", "validate", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["valid"] is True and report["problems"] == [] and "mainnet" in report["networks"]


def test_validate_lists_every_problem_with_exit_2(tmp_path: Path) -> None:
    bad = EXAMPLE.replace("l2_chain_id = 10", 'l2_chain_id = "x"').replace(
        "0x6887246668a3b87F54DeB3b94Ba47a6f63F32985", "0x6887246668a3b87F54DeB3b94Ba47a6f63F32986")
    path = tmp_path / "bad.toml"
    path.write_text(bad)
    proc = opwatch("config", "validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "networks.mainnet.l2_chain_id" in proc.stderr and "checksum" in proc.stderr
    proc = opwatch("config", "validate", "-", "--format", "json", stdin=bad)
    assert proc.returncode == 2 and len(json.loads(proc.stdout)["problems"]) == 2


def test_validate_parses_the_sections(tmp_path: Path) -> None:
    path = tmp_path / "bad-section.toml"
    path.write_text(EXAMPLE + '\n[schedules]\nwallet_runway = "soon"\n')
    proc = opwatch("config", "validate", str(path))
    assert proc.returncode == 2 and "schedules.wallet_runway" in proc.stderr, proc.stderr


def test_every_key_the_loader_accepts_has_a_type_in_the_schema() -> None:
    from opwatch.config_schema import untyped

    assert untyped() == [], "give these keys a type in opwatch/config_schema.py"
