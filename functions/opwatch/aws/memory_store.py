"""DynamoDB memory store: what checks remember between runs, in the alert table.

Items `pk="memory#<network>#<check>"`, `sk=<target>`, with `at` (N, epoch seconds), `doc`
(the observation's JSON) and `expires_at` (the table's TTL attribute). The partition key's
`memory#` prefix is what the check functions' grant is limited to (`dynamodb:LeadingKeys`
`memory#*`, see infra/state.py): a check function can read and write its memory and nothing
of the alert lifecycle's state in the same table.

`put` is conditioned on the stored `at` being older, so an overlapping, older run never
overwrites a newer observation. Every error (throttling, a missing grant, no answer) is
`MemoryUnavailable`, never a crash of the check.
"""

from __future__ import annotations

import time
from typing import Any

from ..memory import RETENTION_SECONDS, MemoryStore, MemoryUnavailable, Observation
from .client import AwsError, DynamoTable, aws_call

PREFIX = "memory#"


def partition(network: str, check: str) -> str:
    return f"{PREFIX}{network}#{check}"


class DynamoDBMemoryStore(DynamoTable, MemoryStore):

    def get(self, network: str, check: str, target: str) -> Observation | None:
        key = {"pk": {"S": partition(network, check)}, "sk": {"S": target}}
        try:
            item = aws_call("dynamodb GetItem", lambda: self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True)).get("Item")
        except AwsError as exc:
            raise MemoryUnavailable(str(exc)) from None
        if not item:
            return None
        doc = item.get("doc", {}).get("S")
        if not isinstance(doc, str):
            raise MemoryUnavailable("a memory item has no doc")
        return Observation.from_json(doc)

    def put(self, network: str, check: str, target: str, observation: Observation) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": partition(network, check)}, "sk": {"S": target},
            "at": {"N": repr(float(observation.at))}, "doc": {"S": observation.to_json()},
            "expires_at": {"N": str(int(time.time() + RETENTION_SECONDS))},
        }
        try:
            aws_call("dynamodb PutItem", lambda: self.client.put_item(
                TableName=self.table_name, Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"}, ExpressionAttributeValues={":at": item["at"]}))
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return False  # a newer observation is already stored
            raise MemoryUnavailable(str(exc)) from None
        return True
