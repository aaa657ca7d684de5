"""DynamoDB tables: alert state (opwatch.alerting.store.dynamodb) and Powertools idempotency.

Both on-demand (a few writes a minute), encrypted with the stack key, with point-in-time
recovery and a TTL attribute: `expires_at` for alert history (set by the store), and
`expiration` for idempotency records (set by Powertools). The alert table is retained on
stack deletion: it holds the incident history.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

_S = dynamodb.AttributeType.STRING
# What the stores call (TransactWriteItems needs the PutItem/ConditionCheckItem of its parts).
ALERT_STORE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class StateTables(Construct):
    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        common = {"billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
                  "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED, "encryption_key": key,
                  "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                      point_in_time_recovery_enabled=True)}
        self.alerts = dynamodb.Table(self, "Alerts", partition_key=dynamodb.Attribute(name="pk", type=_S),
                                     sort_key=dynamodb.Attribute(name="sk", type=_S),
                                     time_to_live_attribute="expires_at", removal_policy=RemovalPolicy.RETAIN,
                                     **common)
        self.idempotency = dynamodb.Table(self, "Idempotency", partition_key=dynamodb.Attribute(name="id", type=_S),
                                          time_to_live_attribute="expiration",
                                          removal_policy=RemovalPolicy.DESTROY, **common)
