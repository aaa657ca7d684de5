"""cdk-nag acknowledgements used in more than one place, each with its reason.

cdk-nag 3 uses CDK's `Validations.of(construct).acknowledge(...)`, one finding id at a time
(e.g. `AwsSolutions-IAM5[Resource::*]`); an acknowledgement covers the construct's children.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct

XRAY = ("AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource: '*' is the only value they accept.")
KMS_GENERATE = ("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                "CDK's grant for publishing to a KMS-encrypted SNS topic or SQS queue; the resource is this "
                "stack's one key, not '*'.")


def acknowledge(construct: IConstruct, *rules: tuple[str, str]) -> None:
    for rule_id, reason in rules:
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def as_nag_sees(stack: Stack, attr: str) -> str:
    """How cdk-nag spells a stack's partition/region/account in a finding id: the literal when
    the stack's environment fixes it, `<AWS::Region>` and the like when it is a token."""
    value = getattr(stack, attr)
    names = {"partition": "Partition", "region": "Region", "account": "AccountId"}
    return f"<AWS::{names[attr]}>" if Token.is_unresolved(value) else str(value)
