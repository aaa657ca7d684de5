"""`opwatch devnet up|down|status|fault|heal` (wired to `run` by the opwatch CLI)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from opwatch_devnet.jsonrpc import RpcClient, RpcError

DEFAULT_WORKDIR = Path(".devnet")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is one.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


def read_state(workdir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((workdir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state


def _running_state(workdir: Path) -> dict[str, Any] | None:
    state = read_state(workdir)
    if state and state.get("ready") and _alive(state.get("supervisor_pid")):
        return state
    return None


def _control(state: dict[str, Any], method: str, *params: Any) -> Any:
    return RpcClient(state["control_url"], timeout=30).call(method, *params)


def _parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def up(workdir: Path, foreground: bool, blobs: bool, proofs: str = "oracle") -> int:
    state = _running_state(workdir)
    if state:
        print(state["config_path"])
        return 0
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "state.json").unlink(missing_ok=True)
    if foreground:
        import threading

        from opwatch_devnet import supervisor

        ready = threading.Event()
        watcher = threading.Thread(
            target=lambda: ready.wait() and print(workdir.resolve() / "opwatch.toml", flush=True), daemon=True
        )
        watcher.start()
        supervisor.serve(workdir.resolve(), ready=ready, use_blobs=blobs, proofs_mode=proofs)
        return 0
    cmd = [sys.executable, "-m", "opwatch_devnet.supervisor", "--workdir", str(workdir.resolve())]
    if blobs:
        cmd.append("--blobs")
    cmd += ["--proofs", proofs]
    with open(workdir / "supervisor.log", "ab") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = read_state(workdir)
        if state and state.get("ready") and state.get("supervisor_pid") == child.pid:
            print(state["config_path"])
            return 0
        if child.poll() is not None:
            print(f"devnet supervisor exited ({child.returncode}); see {workdir / 'supervisor.log'}",
                  file=sys.stderr)
            return 1
        time.sleep(0.1)
    child.terminate()
    print("devnet did not become ready within 60s", file=sys.stderr)
    return 1


def down(workdir: Path) -> int:
    state = read_state(workdir)
    if state is None:
        print("devnet not running")
        return 0
    supervisor_pid = state.get("supervisor_pid")
    try:
        _control(state, "shutdown")
    except (OSError, RpcError):
        if isinstance(supervisor_pid, int) and _alive(supervisor_pid):
            os.kill(supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _alive(supervisor_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Only the pids this devnet recorded are touched, never processes found by name.
    leftovers = [pid for pid in [supervisor_pid, *(n.get("pid") for n in state.get("nodes", {}).values())]
                 if _alive(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    (workdir / "state.json").unlink(missing_ok=True)
    print("devnet stopped" + (f" (killed leftovers {leftovers})" if leftovers else ""))
    return 0


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opwatch devnet", description="local OP Stack devnet for opwatch")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the devnet (detached unless --foreground); prints the config path")
    p_up.add_argument("--workdir", type=Path, default=argparse.SUPPRESS)
    p_up.add_argument("--foreground", action="store_true")
    p_up.add_argument("--blobs", action="store_true", help="batch with blobs instead of calldata")
    p_up.add_argument("--proofs", choices=("oracle", "fault"), default="oracle",
                      help="settle with an L2OutputOracle (default) or with fault-proof dispute games "
                           "(60 s clocks, a game proposer and an honest challenger)")
    for name in ("down", "status"):
        sub.add_parser(name).add_argument("--workdir", type=Path, default=argparse.SUPPRESS)
    from opwatch_devnet.faults import FAULT_NAMES, fault_help

    p_fault = sub.add_parser("fault", help="inject a fault: NAME [ARG ...] [KEY=VALUE ...]",
                             formatter_class=argparse.RawDescriptionHelpFormatter,
                             description="Inject one fault into the running devnet (heal it with "
                                         "`opwatch devnet heal NAME`). Arguments are positional or "
                                         "KEY=VALUE; bad-game and stop-challenger need --proofs fault.\n\n"
                                         "faults (NAME, ARGUMENTS=DEFAULT, what it does):\n" + fault_help(),
                             epilog="exit codes: 0 injected (the devnet's status printed), 1 devnet not "
                                    "running, 2 unknown fault or bad arguments")
    p_fault.add_argument("name", choices=FAULT_NAMES, metavar="NAME")
    p_fault.add_argument("args", nargs="*")
    p_fault.add_argument("--workdir", type=Path, default=argparse.SUPPRESS)
    p_heal = sub.add_parser("heal", help="heal one fault, or all without NAME")
    p_heal.add_argument("name", nargs="?")
    p_heal.add_argument("--workdir", type=Path, default=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    workdir: Path = ns.workdir

    if ns.command == "up":
        return up(workdir, ns.foreground, ns.blobs, ns.proofs)
    if ns.command == "down":
        return down(workdir)
    state = _running_state(workdir)
    if state is None:
        print(f"devnet not running (no live supervisor in {workdir})", file=sys.stderr)
        return 1
    try:
        if ns.command == "status":
            result = _control(state, "status")
        elif ns.command == "fault":
            positional = [_parse_value(a) for a in ns.args if "=" not in a]
            keywords = {k: _parse_value(v) for k, v in (a.split("=", 1) for a in ns.args if "=" in a)}
            result = _control(state, "fault", ns.name, positional, keywords)
        else:
            result = _control(state, "heal", ns.name)
    except RpcError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0
