"""GCP adapter pieces without a network: filter syntax, event parsing, secret caching,
log shape (the fast lane: test_fastlane.py)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from alerting_fixtures import finding
from hypothesis import given
from hypothesis import strategies as st
from opwatch.gcp import filters
from opwatch.gcp.events import MESSAGE_PUBLISHED, BadEvent, finding_from, pubsub_message
from opwatch.gcp.log import LABELS_KEY, CloudLogger
from opwatch.gcp.secret_source import SecretManagerSource, SecretUnavailable

ATTRS = {"network": "mainnet", "check": "batcher_lag", "status": "firing", "severity": "critical"}


@pytest.mark.parametrize("expression, expected", [
    ('attributes.network = "mainnet"', True),
    ('attributes.network != "mainnet"', False),
    ('attributes.missing != "x"', True),  # Pub/Sub: != holds when the attribute is absent
    ("attributes:status", True),
    ("attributes:missing", False),
    ('NOT attributes.status = "ok"', True),
    ('hasPrefix(attributes.check, "batch")', True),
    ('attributes.status = "firing" AND attributes.severity = "critical"', True),
    ('attributes.status = "ok" OR attributes.severity = "critical"', True),
    ('(attributes.network = "l3" OR attributes.network = "mainnet") AND attributes.status = "ok"', False),
    ("", True),
])
def test_filter_evaluation(expression, expected):
    assert filters.matches(expression, ATTRS) is expected


@pytest.mark.parametrize("expression", [
    'attributes.a = "x" AND attributes.b = "y" OR attributes.c = "z"',  # mixing needs parentheses
    'attributes.a = x', 'attributes.a > "x"', '(attributes.a = "x"', 'network = "x"', "x" * 300,
])
def test_filter_syntax_errors(expression):
    with pytest.raises(filters.FilterSyntaxError):
        filters.compile_filter(expression)


@given(st.lists(st.text(alphabet="abc-_1", min_size=1, max_size=8), min_size=1, max_size=4),
       st.text(alphabet='ab"\\ -', max_size=8))
def test_rendered_any_of_matches_exactly_its_values(values, other):
    expression = filters.any_of("network", values)
    for v in values:
        assert filters.matches(expression, {"network": v})
    assert filters.matches(expression, {"network": other}) is (other in values)


def test_rendered_filters_respect_pubsubs_size_limit():
    with pytest.raises(ValueError, match="over Pub/Sub's 256"):
        filters.all_of(filters.any_of("network", [f"network-{i}" for i in range(12)]))


def envelope(data: bytes, **attributes: str) -> dict[str, object]:
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes, "messageId": "7",
                        "publishTime": "2024-01-01T00:00:00Z"}, "subscription": "projects/p/subscriptions/s"}


def test_a_published_finding_round_trips_through_the_envelope():
    f = finding("firing")
    message = pubsub_message(MESSAGE_PUBLISHED, envelope(f.to_json().encode(), **f.attributes()))
    assert message.message_id == "7" and message.subscription.endswith("/s")
    assert finding_from(message) == f


@pytest.mark.parametrize("event_type, data", [
    ("google.cloud.storage.object.v1.finalized", envelope(b"{}")),
    (MESSAGE_PUBLISHED, {"nomessage": 1}),
    (MESSAGE_PUBLISHED, {"message": {"data": "%%%"}}),
    (MESSAGE_PUBLISHED, {"message": {"data": "", "attributes": {"a": 1}}}),
])
def test_bad_events_are_rejected_at_the_boundary(event_type, data):
    with pytest.raises(BadEvent):
        pubsub_message(event_type, data)


def test_attributes_that_disagree_with_the_body_are_rejected():
    f = finding("ok")
    lying = f.attributes() | {"status": "firing"}
    message = pubsub_message(MESSAGE_PUBLISHED, envelope(f.to_json().encode(), **lying))
    with pytest.raises(BadEvent, match="disagree"):
        finding_from(message)
    with pytest.raises(BadEvent):
        finding_from(pubsub_message(MESSAGE_PUBLISHED, envelope(b'{"network": "x"}')))


class FakeSecretClient:
    """Answers `access_secret_version` like the client (payload.data bytes); counts calls."""

    def __init__(self, value: bytes | None) -> None:
        self.value, self.calls = value, 0

    def access_secret_version(self, name: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.value is None:
            raise PermissionError(f"denied {name}")
        payload = type("Payload", (), {"data": self.value})
        return type("Response", (), {"payload": payload})


def test_secret_is_cached_for_its_ttl_and_never_shown():
    now = [0.0]
    client = FakeSecretClient(b"routing-key-value\n")
    source = SecretManagerSource("projects/p/secrets/pd", client=client, ttl_s=60, clock=lambda: now[0])
    assert source() == "routing-key-value" and source() == "routing-key-value" and client.calls == 1
    now[0] = 61
    source()
    assert client.calls == 2
    assert "routing-key-value" not in repr(source) and source.name.endswith("/versions/latest")
    failing = SecretManagerSource("projects/p/secrets/pd/versions/3", client=FakeSecretClient(None))
    with pytest.raises(SecretUnavailable) as exc:
        failing()
    assert "projects/p/secrets/pd/versions/3" in str(exc.value)


def test_log_lines_have_cloud_loggings_shape():
    stream = io.StringIO()
    CloudLogger({"cloud": "gcp"}, stream).log("ERROR", "boom", labels={"check": "rpc_sync"}, dedup_key="k")
    entry = json.loads(stream.getvalue())
    at = entry.pop("time")  # the common log fields (opwatch.logschema): RFC 3339 UTC
    assert at.endswith("Z") and "T" in at
    assert entry == {"severity": "ERROR", "level": "ERROR", "service": "opwatch", "message": "boom",
                     LABELS_KEY: {"cloud": "gcp", "check": "rpc_sync"}, "dedup_key": "k"}
    with pytest.raises(ValueError):
        CloudLogger(stream=stream).log("FATAL", "x")


def _jwt(claims: object) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.SIGNATURE_REMOVED_BY_GOOGLE"


@pytest.mark.parametrize(("headers", "email"), [
    ({"Authorization": f"Bearer {_jwt({'email': 'a@example.com'})}"}, "a@example.com"),
    ({"Authorization": f"bearer {_jwt({'email': 'a@example.com'})}"}, "a@example.com"),
    # Cloud Run checks X-Serverless-Authorization instead of Authorization when both are sent.
    ({"Authorization": f"Bearer {_jwt({'email': 'app@example.com'})}",
      "X-Serverless-Authorization": f"Bearer {_jwt({'email': 'alice@example.com'})}"}, "alice@example.com"),
    ({}, None),
    ({"Authorization": "Basic YWxpY2U6cHc="}, None),
    ({"Authorization": "Bearer not-a-jwt"}, None),
    ({"Authorization": "Bearer a.%%%.c"}, None),
    ({"Authorization": f"Bearer {_jwt(['email'])}"}, None),
    ({"Authorization": f"Bearer {_jwt({'sub': '123'})}"}, None),
    ({"Authorization": f"Bearer {_jwt({'email': 42})}"}, None),
    ({"Authorization": f"Bearer {_jwt({'email': 'x' * 300 + '@example.com'})}"}, None),
])
def test_the_callers_email_is_read_from_the_identity_token_and_garbage_is_no_identity(headers, email):
    from opwatch.gcp.main import identity_email

    assert identity_email(headers) == email
