"""Alert lifecycle and paging: findings in, incidents (trigger/resolve) out.

    from opwatch.alerting import AlertManager, AlertPolicy, SqliteStore
    from opwatch.alerting.pagerduty import PagerDutyClient, PagerDutySink

    sink = PagerDutySink(PagerDutyClient(routing_key=secret_source))
    transitions = AlertManager(SqliteStore("alerts.db"), [sink], AlertPolicy()).process(findings)

Cloud-agnostic: no cloud SDK is imported here; the DynamoDB and Firestore stores live with
their clouds (`opwatch.aws.alert_store`, `opwatch.gcp.alert_store`).
"""

from .manager import AlertManager
from .model import AlertState, DeadLetter, Kind, Notification, Phase, Transition
from .policy import AlertPolicy, Hold, Silence, Timing
from .sinks import DeliveryError, SecretSource, Sink
from .store import Conflict, SqliteStore, StateStore

__all__ = [
    "AlertManager", "AlertPolicy", "AlertState", "Conflict", "DeadLetter", "DeliveryError", "Hold", "Kind",
    "Notification", "Phase", "SecretSource", "Silence", "Sink", "SqliteStore", "StateStore", "Timing",
    "Transition",
]
