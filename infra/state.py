"""DynamoDB tables: alert state, remedy state, and Powertools idempotency for each.

- `alerts` (opwatch.aws.alert_store) and `idempotency`: the pager's.
- `remedies` (opwatch.aws.remedy_store: daily caps, claims, the failover lease, the audit
  log) and `remedy_idempotency`: the remedy functions' only. Apart from the pager's, so a
  role that pages can never widen a cap, forge a claim or outcome, or take the failover lease.

All on-demand (a few writes a minute), encrypted with the stack key, with point-in-time
recovery and a TTL attribute: `expires_at` for alert history and remedy records (set by the
stores), `expiration` for idempotency records (set by Powertools). The alert and remedy
tables are retained on stack deletion: they hold the incident history and the audit log.
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
        # The remedy store keeps the alert store's layout (pk, sk, expires_at) in a table of its own.
        self.remedies = dynamodb.Table(self, "Remedies", partition_key=dynamodb.Attribute(name="pk", type=_S),
                                       sort_key=dynamodb.Attribute(name="sk", type=_S),
                                       time_to_live_attribute="expires_at", removal_policy=RemovalPolicy.RETAIN,
                                       **common)
        self.remedy_idempotency = dynamodb.Table(self, "RemedyIdempotency",
                                                 partition_key=dynamodb.Attribute(name="id", type=_S),
                                                 time_to_live_attribute="expiration",
                                                 removal_policy=RemovalPolicy.DESTROY, **common)
