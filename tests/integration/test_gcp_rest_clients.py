"""Pub/Sub publishing and Secret Manager reads over REST, against the Google APIs stand-in
(tests/gcp_standins.py: the documented wire format, real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alerting_fixtures import finding
from gcp_standins import GoogleApisStandIn
from opwatch.gcp.publisher import FindingPublisher, PublishError, client_for_endpoint
from opwatch.gcp.secret_source import SecretManagerSource, SecretUnavailable
from opwatch.gcp.secret_source import client_for_endpoint as secret_client

TOPIC = "projects/p/topics/findings"


@pytest.fixture
def apis() -> Iterator[GoogleApisStandIn]:
    standin = GoogleApisStandIn.start()
    standin.topics.add(TOPIC)
    yield standin
    standin.stop()


def test_findings_go_out_in_one_request_with_their_attributes(apis: GoogleApisStandIn) -> None:
    findings = [finding("firing", t=float(i), target=f"node-{i}") for i in range(25)]
    ids = FindingPublisher(TOPIC, client_for_endpoint(apis.base_url)).publish(findings)
    published = apis.messages(TOPIC)
    assert ids == [m.message_id for m in published] and len(ids) == 25
    assert [json.loads(m.data)["target"] for m in published] == [f"node-{i}" for i in range(25)]
    assert all(m.attributes == f.attributes() for m, f in zip(published, findings, strict=True))
    assert FindingPublisher(TOPIC, client_for_endpoint(apis.base_url)).publish([]) == []


def test_a_refused_publish_is_an_error_at_once_not_retried(apis: GoogleApisStandIn) -> None:
    pauses: list[float] = []
    publisher = FindingPublisher("projects/p/topics/absent", client_for_endpoint(apis.base_url), sleep=pauses.append)
    with pytest.raises(PublishError, match="HTTP 404"):
        publisher.publish([finding("firing")])
    assert pauses == []  # 404 is an answer: retrying would not change it


def test_no_answer_is_retried_then_an_error() -> None:
    pauses: list[float] = []
    publisher = FindingPublisher(TOPIC, client_for_endpoint("http://127.0.0.1:9"), sleep=pauses.append)
    with pytest.raises(PublishError, match="not published"):
        publisher.publish([finding("firing")])
    assert len(pauses) == 2  # three attempts


def test_a_secret_is_read_over_rest_and_a_missing_one_is_named_not_shown(apis: GoogleApisStandIn) -> None:
    apis.secrets["projects/p/secrets/routing"] = b"R0UTING-KEY\n"
    assert SecretManagerSource("projects/p/secrets/routing", secret_client(apis.base_url))() == "R0UTING-KEY"
    with pytest.raises(SecretUnavailable, match="projects/p/secrets/absent/versions/latest"):
        SecretManagerSource("projects/p/secrets/absent", secret_client(apis.base_url))()
