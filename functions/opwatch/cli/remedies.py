"""`opwatch remediate` and `opwatch drill`: manual invokes and drills.

  opwatch remediate topup    --config FILE --network N --target batcher|proposer [--dry-run]
  opwatch remediate snapshot --config FILE --network N [--dry-run]
  opwatch remediate failover --config FILE --network N [--dry-run]
  opwatch remediate restore  --config FILE --network N [--dry-run]
  opwatch drill restore [--workdir DIR] [--json]
  opwatch audit --config FILE [--network N] [--request-id ID] [--store SPEC] [--limit N] [--json]

  ... --print-request         print the request JSON (for `aws lambda invoke --payload`) and stop
  ... --invoke URL            POST it to a deployed GCP remedy function instead of running it here
                              (https: with an identity token from $OPWATCH_IDENTITY_TOKEN or
                              application default credentials)

A manual invoke is approved by the person running it (`--approved-by`, default $USER) and
carries a request id (`--request-id`, default a fresh one): re-running with the same id is a
retry and never acts twice. Exit codes: 0 done/skipped/dry-run, 1 refused or failed,
2 bad usage or configuration, 3 pending (a transaction awaits its receipt).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_PENDING = 0, 1, 2, 3


def add_parser(subparsers: Any) -> None:
    rem = subparsers.add_parser("remediate", help="run a remedy by hand (top-up, snapshot, failover, restore)")
    rem.add_argument("remedy", choices=("topup", "snapshot", "failover", "restore"))
    rem.add_argument("--config", required=True, help="the opwatch TOML file")
    rem.add_argument("--network", required=True)
    rem.add_argument("--target", help="topup: batcher or proposer")
    rem.add_argument("--dry-run", action="store_true", help="show exactly what would be done; do nothing")
    rem.add_argument("--request-id", help="idempotency key (re-use it to retry safely)")
    rem.add_argument("--approved-by", help="who approves (default: the current user)")
    rem.add_argument("--json", action="store_true", help="print the outcome as JSON")
    rem.add_argument("--print-request", action="store_true",
                     help="print the request as the deployed functions take it (aws lambda invoke --payload, "
                          "or the body POSTed to the GCP remedy function) and do nothing")
    rem.add_argument("--invoke", metavar="URL",
                     help="send the request to the deployed GCP remedy function at URL instead of running it here")
    audit = subparsers.add_parser("audit", help="the remedies' audit log, newest first")
    audit.add_argument("--config", required=True, help="the opwatch TOML file (its [remediation] store)")
    audit.add_argument("--store", help="read this store instead: sqlite:PATH | dynamodb:TABLE (on AWS, the "
                                       "stack's state table) | firestore:PROJECT/DATABASE (on GCP)")
    audit.add_argument("--network", help="only this network")
    audit.add_argument("--request-id", help="only this request")
    audit.add_argument("--limit", type=int, default=50, help="records to read (default 50)")
    audit.add_argument("--json", action="store_true", help="one JSON record per line")
    drill = subparsers.add_parser("drill", help="recovery drills on a local devnet")
    drill.add_argument("drill", choices=("restore",))
    drill.add_argument("--workdir", help="where the drill's devnet lives (default: a temp dir)")
    drill.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "command", None) == "drill" or hasattr(args, "drill"):
        return _drill(args)
    if getattr(args, "command", None) == "audit":
        return _audit(args)
    return _remediate(args)


def _audit(args: argparse.Namespace) -> int:
    """Who asked for what, each guard's verdict and each step, as the remedies recorded them."""
    from ..config import ConfigError, load_config
    from ..remedies.store import open_store
    from .compose import registry

    try:
        config = load_config(args.config)
        if args.network:
            config.network(args.network)
        if args.limit < 1:
            raise ConfigError(["--limit: expected a positive number"])
        store = open_store(args.store or config.section("remediation").store, registry())
    except (ConfigError, ValueError, LookupError) as exc:  # LookupError: a store this runtime lacks
        print(f"opwatch audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    records = [r for r in store.audit(args.limit)
               if (not args.network or r.get("network") == args.network)
               and (not args.request_id or r.get("request_id") == args.request_id)]
    for record in records:
        if args.json:
            print(json.dumps(record, sort_keys=True, default=str))
            continue
        details = record.get("details") or {}
        brief = ", ".join(f"{k}={v}" for k, v in sorted(details.items()))[:160]
        who = record.get("approved_by") or ("finding " + str(record.get("finding")) if record.get("finding")
                                            else "-")
        if record.get("caller"):
            who += f" by {record['caller']}"
        print(f"{record.get('at')}  {record.get('network')}  {record.get('remedy'):<8}  "
              f"{record.get('request_id')}  {record.get('step')}: {record.get('outcome')}  [{who}]"
              + (f"  {brief}" if brief else ""))
    if not records and not args.json:
        print("no audit records" + (" match" if args.network or args.request_id else ""))
    return EXIT_OK


def _remediate(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_config
    from ..remedies.request import BadRequest, RemedyRequest
    from ..remedies.service import Seams, handle
    from .compose import registry

    try:
        config = load_config(args.config)
        config.network(args.network)
        if args.remedy == "topup" and args.target not in ("batcher", "proposer"):
            raise BadRequest("--target batcher|proposer is required for topup")
        request = RemedyRequest(remedy=args.remedy, network=args.network,
                                request_id=args.request_id or f"manual:{uuid.uuid4().hex[:16]}",
                                target=args.target, dry_run=args.dry_run,
                                approved_by=args.approved_by or getpass.getuser(),
                                # a local run: the OS account is all this process knows of who asked
                                caller=f"local:{getpass.getuser()}")
    except (ConfigError, BadRequest) as exc:
        print(f"opwatch remediate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.print_request:
        print(json.dumps(request.to_dict(), sort_keys=True))
        return EXIT_OK
    if args.invoke:
        try:
            outcome = invoke(args.invoke, request.to_dict())
        except InvokeError as exc:
            print(f"opwatch remediate: {exc}", file=sys.stderr)
            return EXIT_USAGE if exc.usage else EXIT_REFUSED
    else:
        outcome = handle(request, config, Seams(registry=registry()))
    return _report(args, request.request_id, outcome)


def _report(args: argparse.Namespace, request_id: str, outcome: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(outcome | {"request_id": request_id}, sort_keys=True, default=str))
    else:
        print(f"{args.remedy} {args.network}: {outcome['status']}: {outcome['reason']}")
        if outcome.get("tx_hash"):
            print(f"  tx {outcome['tx_hash']}" + (f" in block {outcome['block']}" if outcome.get("block") else ""))
        if outcome.get("plan") and args.dry_run:
            for key, value in outcome["plan"].items():
                print(f"  {key}: {value}")
        print(f"  request id {request_id} (re-use it to retry without acting twice)")
    return {"done": EXIT_OK, "sent": EXIT_OK, "skipped": EXIT_OK, "dry-run": EXIT_OK, "duplicate": EXIT_OK,
            "pending": EXIT_PENDING}.get(outcome["status"], EXIT_REFUSED)


class InvokeError(Exception):
    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def invoke(url: str, request: dict[str, Any], timeout: float = 900.0) -> dict[str, Any]:
    """POST a remedy request to a deployed GCP remedy function; its outcome. An https URL gets
    an identity token (the function only admits IAM invokers); http is for a local server."""
    import os
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise InvokeError(f"--invoke: expected the function's URL, got {url!r}", usage=True)
    headers = {"Content-Type": "application/json"}
    if url.startswith("https://"):
        token = os.environ.get("OPWATCH_IDENTITY_TOKEN", "")
        if not token:
            try:
                from ..gcp.rest import identity_token

                token = identity_token(url)
            except Exception as exc:
                raise InvokeError(f"no identity token for {url} ({type(exc).__name__}): set "
                                  "OPWATCH_IDENTITY_TOKEN=$(gcloud auth print-identity-token)", usage=True) from None
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(request).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST"), timeout=timeout) as r:
            answer = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read()[:500].decode(errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            raise InvokeError(f"{url} answered HTTP {exc.code}: {text.strip() or exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise InvokeError(f"{url}: {type(exc).__name__}: {exc}") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise InvokeError(f"{url} answered something that is not a remedy outcome")
    answer.setdefault("reason", "")
    return answer


def _drill(args: argparse.Namespace) -> int:
    try:
        from opwatch_devnet.drill import run_restore_drill
    except ImportError:
        print("opwatch drill: needs the devnet (a checkout with opwatch_devnet)", file=sys.stderr)
        return EXIT_USAGE
    report = run_restore_drill(args.workdir, say=(lambda _: None) if args.json else print)
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=True))
    else:
        print(f"restore drill: {report.outcome}")
        print(f"  RTO {report.rto_s:.1f} s (kill → replacement producing and RPC nodes following)")
        print(f"  RPO {report.rpo_blocks} blocks lost (head {report.head_at_kill} at the kill, snapshot at "
              f"{report.snapshot_block})")
        print(f"  stall confirmed by {len(report.observers_stalled)} observers; RPC nodes following: "
              f"{report.rpc_nodes_following}; snapshot block hash kept: {report.snapshot_hash_kept}")
    ok = report.outcome == "done" and report.rpc_nodes_following and report.snapshot_hash_kept
    return EXIT_OK if ok else EXIT_REFUSED
