"""Validating patterns match the whole value: `$` also matches before a trailing newline, so a
value like "0x…\n" or "ops-1\n" used to pass and then travel on (into a request id, an RPC
answer's parsed fields, a CloudFormation name). Each pattern here gates data from outside."""

from __future__ import annotations

import pytest
from opwatch.aws import restore as aws_restore
from opwatch.chain import wire
from opwatch.chain.errors import BadResponse
from opwatch.deploy import aws as deploy_aws
from opwatch.gcp import gce_disk
from opwatch.remedies import restore as shared_restore
from opwatch.remedies.request import BadRequest, RemedyRequest

ADDRESS = "0x" + "ab" * 20
HASH = "0x" + "cd" * 32


@pytest.mark.parametrize("parse,value", [(wire.address, ADDRESS), (wire.hash32, HASH), (wire.quantity, "0x10"),
                                         (wire.data, "0xabcd")])
def test_a_wire_value_with_a_trailing_newline_is_a_bad_response(parse, value) -> None:  # type: ignore[no-untyped-def]
    parse(value, "field")  # the value itself is fine
    with pytest.raises(BadResponse):
        parse(value + "\n", "field")


def test_a_request_id_with_a_trailing_newline_is_refused() -> None:
    RemedyRequest(remedy="topup", network="n", request_id="ops-1")
    with pytest.raises(BadRequest):
        RemedyRequest(remedy="topup", network="n", request_id="ops-1\n")


@pytest.mark.parametrize("pattern,value", [
    (deploy_aws._ACCOUNT, "111111111111"), (deploy_aws._REGION, "us-east-1"), (deploy_aws._ENV_NAME, "prod"),
    (deploy_aws._SECRET_ARN, "arn:aws:secretsmanager:us-east-1:111111111111:secret:opwatch/x-AbCdEf"),
    (deploy_aws._EMAIL, "oncall@example.com"), (deploy_aws._NAMESPACE, "opwatch"),
    (aws_restore._SNAPSHOT_ID, "snap-0123456789abcdef0"), (shared_restore._HOST_NAME, "seq.example.com"),
    (gce_disk.NAME_RE, "opwatch-snap-1"), (gce_disk.LABEL_KEY_RE, "opwatch-block"), (gce_disk.LABEL_VALUE_RE, "12"),
])
def test_names_match_whole_not_before_a_newline(pattern, value) -> None:  # type: ignore[no-untyped-def]
    assert pattern.match(value)
    assert not pattern.match(value + "\n")
