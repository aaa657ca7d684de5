"""One Lambda execution environment: a process that imports a function's handler from its
asset and calls it once per request, keeping what it built between calls (a warm container).

    python lambda_worker.py HANDLER FUNCTION_NAME TASK_ROOT

Run by aws_deployed.py with the function's environment and `PYTHONPATH` naming a folder whose
`opwatch` is the asset's (so the code that runs is the bundled code, not this checkout's).
Requests arrive one JSON line each on stdin: `{"event", "remaining_ms", "request_id"}`;
replies leave one JSON line each on the original stdout: `{"result"}` or `{"error"}`. The
handler's own output (Powertools logs to stdout) goes to stderr, the function's log.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from dataclasses import dataclass

REGION = "us-east-1"


@dataclass
class LambdaContext:
    """The Lambda context object's fields Powertools and the handlers read."""

    function_name: str
    remaining_ms: int
    aws_request_id: str
    memory_limit_in_mb: int = 256

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def main() -> None:
    handler_path, function_name, task_root = sys.argv[1:4]
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and logs: the function's log, never the reply channel
    sys.stdout = sys.stderr
    import opwatch

    where = os.path.realpath(opwatch.__file__)
    if not where.startswith(os.path.realpath(task_root) + os.sep):
        raise SystemExit(f"opwatch imported from {where}, not from the asset {task_root}")
    module, _, attr = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module), attr)
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(function_name, int(request["remaining_ms"]), request["request_id"])
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception as exc:  # the invocation failed, as Lambda reports it; the container lives on
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
