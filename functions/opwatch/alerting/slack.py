"""The Slack sink: an incoming webhook, one Block Kit message per trigger and per resolve.

An incoming webhook can only post (it cannot edit or thread a message), so a resolve is a
follow-up message naming the same alert and dedup key. The webhook URL is the credential: it
comes from a secret at call time and never appears in an error, a log or a dead letter.

Block Kit limits the message is kept within (Slack's reference, validated by the stand-in in
tests/slack_standin.py): at most 50 blocks; a header's plain text ≤ 150 characters; a section's
text ≤ 3000; a context ≤ 10 elements; a button's text ≤ 75 and its URL ≤ 3000. The top-level
`text` is the notification fallback (kept ≤ 3000 here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .alertmanager import diagnosis_lines
from .model import Notification
from .sinks import SecretSource, post_json

HEADER_MAX = 150
SECTION_MAX = 3000
TEXT_MAX = 3000
BUTTON_URL_MAX = 3000
_MARK = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def message_for(n: Notification, runbook_url: str) -> dict[str, Any]:
    """The incoming-webhook body for one notification."""
    firing = n.action == "trigger"
    title = (f"{_MARK.get(n.severity, ':red_circle:')} {n.severity.upper()}: " if firing else ":white_check_mark: "
             "RESOLVED: ") + f"{n.check} on {n.network} ({n.target})"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_MAX), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(n.summary or n.dedup_key, SECTION_MAX)}},
    ]
    lines = diagnosis_lines(n) if firing else []
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "*Diagnosis*\n" + "\n".join(f"• {line}" for line in lines), SECTION_MAX)}})
    facts = [f"observed: {n.observed}" if n.observed else "", f"threshold: {n.threshold}" if n.threshold else "",
             f"dedup key: `{n.dedup_key}`", f"at {n.timestamp}" if n.timestamp else ""]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(f, SECTION_MAX)}
                                                   for f in facts if f]})
    if runbook_url.startswith(("http://", "https://")) and len(runbook_url) <= BUTTON_URL_MAX:
        blocks.append({"type": "actions", "elements": [{"type": "button", "url": runbook_url,
                                                        "text": {"type": "plain_text", "text": "Runbook"}}]})
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
            f"runbook: {runbook_url}", SECTION_MAX)}]})
    return {"text": _cut(f"{title}: {n.summary}", TEXT_MAX), "blocks": blocks}


class SlackSink:
    def __init__(self, name: str, webhook_url: SecretSource, runbook_url: Callable[[str], str] = lambda p: p,
                 post: Callable[..., bytes] = post_json) -> None:
        self.name = name
        self._webhook_url = webhook_url
        self.runbook_url = runbook_url
        self._post = post

    def __repr__(self) -> str:  # never the webhook URL
        return f"SlackSink({self.name!r})"

    def send(self, notification: Notification) -> None:
        self._post(self._webhook_url(), message_for(notification, self.runbook_url(notification.runbook)),
                   what=f"slack {self.name}")
