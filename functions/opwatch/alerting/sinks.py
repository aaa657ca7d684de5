"""Where notifications go: the sink and secret-source seams.

A sink delivers one `Notification` or raises `DeliveryError` (saying whether trying again
later may help). Routing by severity happens in the manager (`AlertPolicy.routes` maps a
severity to sink names); a sink knows nothing about policy.
"""

from __future__ import annotations

from typing import Protocol

from .model import Notification


class DeliveryError(Exception):
    """A notification was not delivered. `retryable`: False when the receiver refused it for good
    (e.g. a 400: the same request will always be refused)."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    name: str

    def send(self, notification: Notification) -> None: ...


class SecretSource(Protocol):
    """Returns a secret's value (e.g. the PagerDuty routing key) when called.

    Real implementations (AWS Secrets Manager, GCP Secret Manager) come with the cloud
    adapters. Callers never log the value or put it in errors, dead letters or state.
    """

    def __call__(self) -> str: ...
