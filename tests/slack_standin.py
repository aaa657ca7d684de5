"""A stand-in for Slack's incoming webhooks (`POST https://hooks.slack.com/services/T/B/X`) and
for a generic JSON webhook receiver, over real HTTP on loopback.

What it validates, from Slack's Block Kit reference and the incoming-webhook docs: the body is
a JSON object with a string `text` (the notification fallback) and/or `blocks`; at most 50
blocks; each block's `type` is one of header | section | context | actions | divider; a header's
text is `plain_text` ≤ 150 characters; a section's text (`mrkdwn` or `plain_text`) ≤ 3000; a
context holds 1..10 elements; an actions block holds buttons whose text is `plain_text` ≤ 75
and whose `url` ≤ 3000. A valid message is answered `200 ok`; an invalid one `400
invalid_payload`, as Slack answers. Only the path the test registered (the secret part of the
URL) is accepted; any other is `404 no_service`. `fail_next(status)` queues a failure.

Not what Slack does beyond that: no channel routing, no mrkdwn rendering, no rate limit
unless queued. The generic webhook path (`/hook/<token>`) accepts any JSON object.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BLOCKS_MAX = 50
HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 10
BUTTON_TEXT_MAX = 75
URL_MAX = 3000


def problems(message: Any) -> list[str]:
    """What is wrong with an incoming-webhook body, by Slack's documented limits."""
    if not isinstance(message, dict):
        return ["body is not a JSON object"]
    out: list[str] = []
    if not isinstance(message.get("text", ""), str):
        out.append("text is not a string")
    blocks = message.get("blocks", [])
    if not message.get("text") and not blocks:
        out.append("neither text nor blocks")
    if not isinstance(blocks, list) or len(blocks) > BLOCKS_MAX:
        return [*out, f"blocks: not a list of at most {BLOCKS_MAX}"]

    def text_ok(obj: Any, kinds: tuple[str, ...], limit: int, where: str) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
            out.append(f"{where}: expected a text object of type {'|'.join(kinds)}")
        elif not 1 <= len(obj["text"]) <= limit:
            out.append(f"{where}: text length {len(obj['text'])} not in 1..{limit}")

    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"blocks[{i}]"
        if kind == "header":
            text_ok(block.get("text"), ("plain_text",), HEADER_MAX, where)
        elif kind == "section":
            text_ok(block.get("text"), ("mrkdwn", "plain_text"), SECTION_MAX, where)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_MAX:
                out.append(f"{where}: a context holds 1..{CONTEXT_MAX} elements")
            else:
                for j, e in enumerate(elements):
                    text_ok(e, ("mrkdwn", "plain_text"), SECTION_MAX, f"{where}.elements[{j}]")
        elif kind == "actions":
            for j, e in enumerate(block.get("elements") or [None]):
                if not isinstance(e, dict) or e.get("type") != "button":
                    out.append(f"{where}.elements[{j}]: expected a button")
                    continue
                text_ok(e.get("text"), ("plain_text",), BUTTON_TEXT_MAX, f"{where}.elements[{j}]")
                if not isinstance(e.get("url", ""), str) or len(e.get("url", "")) > URL_MAX:
                    out.append(f"{where}.elements[{j}]: url over {URL_MAX}")
        elif kind != "divider":
            out.append(f"{where}: unknown block type {kind!r}")
    return out


class WebhookStandIn:
    """`slack_path` and `hook_path` are the secret parts of the URLs (`url` and `hook_url`)."""

    def __init__(self, server: ThreadingHTTPServer, slack_path: str, hook_path: str) -> None:
        self.server = server
        self.slack_path = slack_path
        self.hook_path = hook_path
        self.slack: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.rejected: list[list[str]] = []
        self.failures: list[int] = []
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.slack_path}"

    @property
    def hook_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.hook_path}"

    def fail_next(self, status: int) -> None:
        self.failures.append(status)

    @classmethod
    def start(cls, slack_path: str = "/services/T000/B000/XXXXsecretXXXX",
              hook_path: str = "/hook/t0ken-secret") -> WebhookStandIn:
        holder: dict[str, WebhookStandIn] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, text: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def do_POST(self) -> None:
                me = holder["me"]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with me.lock:
                    me.requests += 1
                    if me.failures:
                        return self.reply(me.failures.pop(0), "rate_limited")
                if self.path not in (me.slack_path, me.hook_path):
                    return self.reply(404, "no_service")
                try:
                    message = json.loads(body)
                except ValueError:
                    return self.reply(400, "invalid_payload")
                if self.path == me.hook_path:
                    if not isinstance(message, dict):
                        return self.reply(400, "not an object")
                    me.hooks.append(message)
                    return self.reply(200, "ok")
                found = problems(message)
                if found:
                    me.rejected.append(found)
                    return self.reply(400, "invalid_payload")
                me.slack.append(message)
                return self.reply(200, "ok")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        holder["me"] = me = cls(server, slack_path, hook_path)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return me

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
