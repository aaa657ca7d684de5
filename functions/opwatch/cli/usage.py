"""What `--help` says: each subcommand's description, its choices and its exit codes, and `--version`.

Subcommands come from several modules (cli/main.py and the extensions it loads); `finish` walks
the finished parser once so every one of them reads the same way, whatever module added it.
"""

from __future__ import annotations

import argparse

# Exit codes by subcommand path; the default covers commands that only succeed or refuse.
EXIT_CODES: dict[str, str] = {
    "check": "0 all ok, 1 any firing, 3 unknown but none firing, 2 bad usage or config, or a check named "
             "with --check that cannot run on a network",
    "watch": "0 on SIGTERM/Ctrl-C (or the last round's code with --iterations), 2 bad usage or config",
    "smoke": "0 every gate passed, 1 a gate failed, 2 bad usage or config",
    "config": "0 valid, 2 invalid or unreadable",
    "init": "0 config written (placeholders may remain: see its comments), 2 bad usage, an endpoint that "
            "cannot be read, or a file that exists (without --force)",
    "completion": "0",
}
_DEFAULT_EXIT = "0 done, 1 refused or failed (the message says why), 2 bad usage or config"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("opwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def finish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--version", action="version", version=f"opwatch {version()}")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "exit codes: see each command's --help.  Shell completion: opwatch completion bash"
    _walk(parser, "")
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(parser: argparse.ArgumentParser, path: str) -> None:
    helps: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
    for name, child in subcommands(parser).items():
        full = f"{path} {name}".strip()
        if child.description is None and helps.get(name):
            child.description = helps[name][:1].upper() + helps[name][1:] + "."
        if not child.add_help:  # devnet and demo: their own tool prints their help
            continue
        if not child.epilog or "exit code" not in child.epilog.lower():
            codes = EXIT_CODES.get(full) or EXIT_CODES.get(full.split(" ")[0]) or _DEFAULT_EXIT
            child.epilog = (f"{child.epilog}\n\n" if child.epilog else "") + f"exit codes: {codes}"
        child.formatter_class = argparse.RawDescriptionHelpFormatter
        _walk(child, full)
