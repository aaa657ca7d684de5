"""The PagerDuty Events v2 stand-in lives with the devnet (the demo pages it too)."""

from opwatch_devnet.pagerduty import ACTIONS, SEVERITIES, EventsStandIn, Incident, validate, validate_change

__all__ = ["ACTIONS", "SEVERITIES", "EventsStandIn", "Incident", "validate", "validate_change"]
