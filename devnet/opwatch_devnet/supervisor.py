"""The devnet supervisor process: owns the nodes and actors, serves a loopback control endpoint.

`opwatch devnet up` starts this detached; `fault`, `heal`, `status` and `down` from other
processes reach it through the control endpoint (JSON-RPC over HTTP on 127.0.0.1), whose URL is
in `<workdir>/state.json`.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from opwatch_devnet.faults import UnknownFault
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.rpcserver import JsonRpcServer, MethodError
from opwatch_devnet.topology import Devnet


def status_of(devnet: Devnet) -> dict[str, Any]:
    def head(url: str) -> int | None:
        try:
            return RpcClient(url, timeout=2).block_number()
        except (OSError, RpcError):
            return None

    return {
        "config_path": str(devnet.config_path),
        "heads": {
            "l1": head(devnet.l1_url), "l2": head(devnet.l2_url),
            **{p.name: head(p.url) for p in devnet.rpc_nodes},
        },
        "safe_l2": devnet.scanner.safe_number(),
        "proofs": devnet.proofs_mode,
        "outputs_proposed": len(devnet.proposer.proposed),
        "games_resolved": len(devnet.challenger.resolved()) if devnet.challenger is not None else None,
        "batches_sent": len(devnet.batcher.submissions),
        "actors": {a.name: {"active": a.active, "last_error": a.last_error} for a in devnet.actors},
        "sequencer_active": devnet.sequencer_control.active,
        "faults": devnet.faults.active_json(),
    }


def serve(workdir: Path, ready: threading.Event | None = None, **start_args: Any) -> None:
    """Runs until `shutdown` is called over the control endpoint or SIGTERM/SIGINT arrives."""
    done = threading.Event()
    devnet = Devnet.start(workdir, **start_args)
    try:
        def fault(name: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None) -> Any:
            try:
                devnet.fault(name, *(args or []), **(kwargs or {}))
            except (UnknownFault, TypeError, IndexError) as err:
                raise MethodError(str(err)) from err
            return devnet.faults.active_json()

        def heal(name: str | None = None) -> Any:
            try:
                devnet.heal(name)
            except UnknownFault as err:
                raise MethodError(str(err)) from err
            return devnet.faults.active_json()

        def shutdown() -> bool:
            done.set()
            return True

        control = JsonRpcServer("devnet-control", {
            "fault": fault, "heal": heal, "status": lambda: status_of(devnet), "shutdown": shutdown,
        }).start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: done.set())
        devnet.write_state({"control_url": control.url, "supervisor_pid": os.getpid(), "ready": True})
        if ready is not None:
            ready.set()
        done.wait()
        control.close()
    finally:
        devnet.stop()
        (workdir / "state.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opwatch_devnet.supervisor")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--blobs", action="store_true", help="the batcher posts blobs instead of calldata")
    parser.add_argument("--proofs", choices=("oracle", "fault"), default="oracle")
    args = parser.parse_args(argv)
    serve(args.workdir.resolve(), use_blobs=args.blobs, proofs_mode=args.proofs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
