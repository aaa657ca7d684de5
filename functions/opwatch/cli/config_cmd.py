"""`opwatch config validate FILE` and `opwatch config schema`.

validate loads the file exactly as every runtime does (`load_config`, every section parsed by
its owner) and lists every problem by its field path; schema prints the JSON Schema editors use
(docs/opwatch.schema.json is its output).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import ConfigError, load_config, parse_config

EXIT_CODES = "exit codes: 0 valid, 2 invalid (every problem listed by its field path) or unreadable"


def add_parser(subparsers: Any) -> None:
    cfg = subparsers.add_parser("config", help="validate a config file, or print its JSON Schema",
                                description="Check an opwatch config file, or print the JSON Schema of the "
                                            "format for editors.", epilog=EXIT_CODES)
    sub = cfg.add_subparsers(dest="config_command", required=True)
    validate = sub.add_parser("validate", help="load FILE as every runtime does and list every problem",
                              description="Load FILE exactly as the CLI, the cloud functions and the deploy "
                                          "tools do; every problem is named by its field path.",
                              epilog=EXIT_CODES)
    validate.add_argument("file", metavar="FILE", help="the opwatch TOML file ('-' reads stdin)")
    validate.add_argument("--format", choices=("table", "json"), default="table")
    schema = sub.add_parser("schema", help="print the JSON Schema of the config (docs/opwatch.schema.json)",
                            description="Print the JSON Schema of the config file for editors. It checks "
                                        "shapes only; `config validate` checks everything.",
                            epilog="exit codes: 0")
    schema.add_argument("--format", choices=("json",), default="json", help="the schema is JSON")


def run(args: argparse.Namespace) -> int:
    if args.config_command == "schema":
        from ..config_schema import render

        sys.stdout.write(render())
        return 0
    try:
        if args.file == "-":
            config = parse_config(sys.stdin.read(), source="<stdin>")
        else:
            config = load_config(args.file)
        for name in config.sections:  # sections read lazily elsewhere: parse each now
            config.section(name)
    except ConfigError as exc:
        return _report(args, False, exc.problems, [])
    return _report(args, True, [], sorted(config.networks))


def _report(args: argparse.Namespace, valid: bool, problems: list[str], networks: list[str]) -> int:
    if args.format == "json":
        print(json.dumps({"file": args.file, "valid": valid, "problems": problems, "networks": networks},
                         indent=2, sort_keys=True))
    elif valid:
        print(f"{args.file}: valid ({len(networks)} network{'s' * (len(networks) != 1)}: {', '.join(networks)})")
    else:
        print(f"{args.file}: invalid", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if valid else 2
