"""DynamoDB remedy store: conditional writes for claims, budgets and leases.

Same table layout as the alerting store (string `pk`, `sk`; `expires_at` TTL), so one
table can serve both (`opwatch.aws.alert_store.create_table` creates it):

- `pk="remedy-request"`, `sk=<request id>`: the claim (`attribute_not_exists(pk)`).
- `pk="remedy-budget"`, `sk=<budget>`: `version` N and `doc` = the window's entries
  `[[time, wei, request id], ...]`; a reservation is a Put conditioned on the version read,
  retried on conflict, so the cap holds under any interleaving.
- `pk="remedy-lease"`, `sk=<name>`: `owner`, `lease_until`; taken with a condition
  "absent, expired or mine".
- `pk="remedy-audit"`, `sk=<ns time>#<n>`: the audit log (TTL 90 days).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from ..remedies.store import AUDIT_RETENTION_S, Claim, RemedyStore, prune_window
from .client import DynamoTable

_LOST = {"ConditionalCheckFailedException", "TransactionConflictException"}
_CAS_ATTEMPTS = 50
_seq = itertools.count()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoDBRemedyStore(DynamoTable, RemedyStore):

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True).get("Item")
        return item or None

    def _put(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None,
             names: dict[str, str] | None = None) -> bool:
        args: dict[str, Any] = {"TableName": self.table_name, "Item": item}
        if condition:
            args["ConditionExpression"] = condition
        if values:
            args["ExpressionAttributeValues"] = values
        if names:
            args["ExpressionAttributeNames"] = names
        try:
            self.client.put_item(**args)
            return True
        except Exception as exc:
            if _code(exc) in _LOST:
                return False
            raise

    def claim(self, request_id: str, record: dict[str, Any]) -> Claim:
        item = _key("remedy-request", request_id) | {"doc": {"S": json.dumps(record, sort_keys=True)}}
        if self._put(item, "attribute_not_exists(pk)"):
            return Claim(True, record)
        found = self._get("remedy-request", request_id)
        return Claim(False, json.loads(found["doc"]["S"]) if found else {})

    def lookup(self, request_id: str) -> dict[str, Any] | None:
        found = self._get("remedy-request", request_id)
        return json.loads(found["doc"]["S"]) if found else None

    def update(self, request_id: str, record: dict[str, Any]) -> None:
        self._put(_key("remedy-request", request_id) | {"doc": {"S": json.dumps(record, sort_keys=True)}})

    def forget(self, request_id: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key=_key("remedy-request", request_id))

    def _budget(self, budget: str) -> tuple[int, list[list[Any]]]:
        item = self._get("remedy-budget", budget)
        if item is None:
            return 0, []
        return int(item["version"]["N"]), json.loads(item["doc"]["S"])

    def _write_budget(self, budget: str, version: int, entries: list[list[Any]]) -> bool:
        item = _key("remedy-budget", budget) | {"version": {"N": str(version + 1)},
                                                "doc": {"S": json.dumps(entries)}}
        if version == 0:
            return self._put(item, "attribute_not_exists(pk)")
        return self._put(item, "version = :v", {":v": {"N": str(version)}})

    def reserve(self, budget: str, request_id: str, amount: int, cap: int, window_s: float, now: float) -> bool:
        for _ in range(_CAS_ATTEMPTS):
            version, entries = self._budget(budget)
            if any(e[2] == request_id for e in entries):
                return True
            live = prune_window(entries, window_s, now)
            if sum(int(e[1]) for e in live) + amount > cap:
                return False
            if self._write_budget(budget, version, [*live, [now, str(amount), request_id]]):
                return True
        raise RuntimeError(f"budget {budget}: lost the compare-and-set {_CAS_ATTEMPTS} times")

    def unreserve(self, budget: str, request_id: str) -> None:
        for _ in range(_CAS_ATTEMPTS):
            version, entries = self._budget(budget)
            kept = [e for e in entries if e[2] != request_id]
            if len(kept) == len(entries) or self._write_budget(budget, version, kept):
                return

    def spent(self, budget: str, window_s: float, now: float) -> int:
        return sum(int(e[1]) for e in prune_window(self._budget(budget)[1], window_s, now))

    def acquire_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        item = _key("remedy-lease", name) | {"owner": {"S": owner}, "lease_until": {"N": repr(now + ttl_s)},
                                             "expires_at": {"N": str(int(now + ttl_s + 86400))}}
        return self._put(item, "attribute_not_exists(pk) OR lease_until < :now OR #o = :me",
                         {":now": {"N": repr(now)}, ":me": {"S": owner}}, {"#o": "owner"})

    def release_lease(self, name: str, owner: str) -> None:
        try:
            self.client.delete_item(TableName=self.table_name, Key=_key("remedy-lease", name),
                                    ConditionExpression="#o = :me", ExpressionAttributeNames={"#o": "owner"},
                                    ExpressionAttributeValues={":me": {"S": owner}})
        except Exception as exc:
            if _code(exc) not in _LOST:
                raise

    def append_audit(self, record: dict[str, Any]) -> None:
        now = time.time()
        self._put(_key("remedy-audit", f"{time.time_ns():020d}#{next(_seq):06d}") | {
            "doc": {"S": json.dumps(record, sort_keys=True)},
            "expires_at": {"N": str(int(now + AUDIT_RETENTION_S))}})

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        page = self.client.query(TableName=self.table_name, KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": "remedy-audit"}},
                                 ScanIndexForward=False, Limit=limit, ConsistentRead=True)
        return [json.loads(i["doc"]["S"]) for i in page.get("Items", [])]
