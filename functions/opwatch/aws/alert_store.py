"""DynamoDB state store: conditional writes on a `version` attribute, a TTL attribute.

One table, string keys `pk` (partition) and `sk` (sort):

- `pk="state"`, `sk=<dedup_key>`: the alert state (`doc` JSON, `version` N, `open` BOOL).
  A few dozen keys per deployment, so one partition is cheap and `open_alerts` is a Query.
- `pk="transition"`, `sk=<recorded ns>#<key>#<n>`: the history, newest last.
- `pk="deadletter"`, `sk=<dead letter id>`: undeliverable notifications.
- `pk="silence"`, `sk=<silence id>`: silences added with `opwatch silence add` (`doc` JSON),
  read by the pager on every evaluation (a Query: the pager's `ALERT_STORE_ACTIONS` on the
  whole table, no LeadingKeys condition) and written only by the operator's credentials.

`expires_at` (epoch seconds) is the table's TTL attribute: history and dead letters age
out after `RETENTION_SECONDS`, a closed alert's state too (an open one never does), a
silence that long after it ended (expired or removed).

`commit` is one `TransactWriteItems`: the state Put conditioned on the version it read
(`attribute_not_exists(pk)` for a new key) plus the transition Puts, so a loser writes
nothing. boto3 is imported lazily and the client injected (tests hand in one pointed at a
moto server), as Powertools' DynamoDBPersistenceLayer does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ..alerting.model import AlertState, DeadLetter, Transition
from ..alerting.silences import SilenceStore, StoredSilence
from ..alerting.store.base import RETENTION_SECONDS, StateStore
from .client import DynamoTable

_LOST = {"ConditionalCheckFailedException", "TransactionCanceledException", "TransactionConflictException"}


def create_table(client: Any, name: str) -> None:
    """Create the table (on-demand) with its TTL; the CDK app does the same in production."""
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(TableName=name,
                               TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


class DynamoDBStore(DynamoTable, StateStore, SilenceStore):

    def get(self, key: str) -> AlertState | None:
        item = self.client.get_item(TableName=self.table_name, Key=_key("state", key), ConsistentRead=True).get("Item")
        return _state(item) if item else None

    def commit(self, state: AlertState, transitions: Sequence[Transition] = ()) -> bool:
        now = time.time()
        new_version = state.version + 1
        item = _key("state", state.key) | {
            "version": {"N": str(new_version)},
            "open": {"BOOL": state.is_open},
            "doc": {"S": json.dumps(state.to_dict() | {"version": new_version}, sort_keys=True)},
        }
        if not state.is_open:
            item["expires_at"] = {"N": str(int(now + RETENTION_SECONDS))}
        put: dict[str, Any] = {"TableName": self.table_name, "Item": item}
        if state.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(state.version)}}
        try:
            if not transitions:
                self.client.put_item(**put)
            else:
                stamp = time.time_ns()
                items = [{"Put": put}] + [
                    {"Put": {"TableName": self.table_name,
                             "Item": _key("transition", f"{stamp:020d}#{t.key}#{i:03d}") | {
                                 "doc": {"S": json.dumps(t.to_dict())},
                                 "expires_at": {"N": str(int(now + RETENTION_SECONDS))}}}}
                    for i, t in enumerate(transitions)]
                self.client.transact_write_items(TransactItems=items)
        except Exception as exc:
            if _error_code(exc) in _LOST:
                return False
            raise
        state.version = new_version
        return True

    def open_alerts(self) -> list[AlertState]:
        items = self._query("state", filter_open=True)
        return sorted((_state(i) for i in items), key=lambda s: s.key)

    def transitions(self, key: str | None = None, limit: int = 50) -> list[Transition]:
        found: list[Transition] = []
        for item in self._query("transition", newest_first=True):
            t = Transition.from_dict(json.loads(item["doc"]["S"]))
            if key is None or t.key == key:
                found.append(t)
                if len(found) >= limit:
                    break
        return found

    def put_dead_letter(self, letter: DeadLetter) -> bool:
        item = _key("deadletter", letter.id) | {
            "doc": {"S": json.dumps(letter.to_dict())},
            "recorded": {"N": str(time.time())},
            "expires_at": {"N": str(int(time.time() + RETENTION_SECONDS))},
        }
        old = self.client.put_item(TableName=self.table_name, Item=item, ReturnValues="ALL_OLD")
        return not old.get("Attributes")

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        items = sorted(self._query("deadletter"), key=lambda i: -float(i["recorded"]["N"]))
        return [DeadLetter.from_dict(json.loads(i["doc"]["S"])) for i in items[:limit]]

    # --- silences (alerting/silences.py) ----------------------------------------------

    def add_silence(self, silence: StoredSilence) -> None:
        try:
            self.client.put_item(TableName=self.table_name, Item=_silence_item(silence),
                                 ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if _error_code(exc) in _LOST:
                raise ValueError(f"silence {silence.id} exists") from None
            raise

    def stored_silences(self) -> list[StoredSilence]:
        found = [StoredSilence.from_dict(json.loads(i["doc"]["S"])) for i in self._query("silence")]
        return sorted(found, key=lambda s: (-s.created_at, s.id))

    def remove_silence(self, silence_id: str, by: str, at: float) -> StoredSilence | None:
        for _ in range(5):
            item = self.client.get_item(TableName=self.table_name, Key=_key("silence", silence_id),
                                        ConsistentRead=True).get("Item")
            if item is None:
                return None
            silence = StoredSilence.from_dict(json.loads(item["doc"]["S"]))
            if silence.removed_at:
                return silence
            removed = silence.removed(by, at)
            try:  # conditioned on the record as read: a concurrent removal wins, and is returned
                self.client.put_item(TableName=self.table_name, Item=_silence_item(removed),
                                     ConditionExpression="#doc = :doc", ExpressionAttributeNames={"#doc": "doc"},
                                     ExpressionAttributeValues={":doc": item["doc"]})
                return removed
            except Exception as exc:
                if _error_code(exc) not in _LOST:
                    raise
        raise ValueError(f"silence {silence_id}: changed under every attempt to remove it")

    def _query(self, pk: str, filter_open: bool = False, newest_first: bool = False) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self.table_name, "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}}, "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
        }
        if filter_open:
            args["FilterExpression"] = "#open = :true"
            args["ExpressionAttributeNames"] = {"#open": "open"}
            args["ExpressionAttributeValues"][":true"] = {"BOOL": True}
        items: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**args)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _silence_item(silence: StoredSilence) -> dict[str, Any]:
    return _key("silence", silence.id) | {
        "doc": {"S": json.dumps(silence.to_dict(), sort_keys=True)},
        "expires_at": {"N": str(int(silence.ended_at() + RETENTION_SECONDS))}}


def _state(item: dict[str, Any]) -> AlertState:
    state = AlertState.from_dict(json.loads(item["doc"]["S"]))
    state.version = int(item["version"]["N"])
    return state


def _error_code(exc: Exception) -> str:
    # botocore.exceptions.ClientError carries .response; matched by shape so this module
    # needs no botocore import at the top.
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
