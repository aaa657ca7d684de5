"""Credential redaction for RPC URLs and access tokens.

Provider URLs carry secrets in three places: userinfo (`https://user:pass@host`), the path
(`/v2/<api key>`, `/<project id>`) and the query (`?apikey=...`). A redacted URL keeps the
scheme, host and port, which is what an operator needs to tell endpoints apart.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_URL_IN_TEXT = re.compile(r"(?:https?|wss?)://[^\s'\"<>]+", re.IGNORECASE)
# OAuth access tokens as Google's libraries quote them in errors (a bearer header, an
# `access_token` field, a bare `ya29.` token): the one redaction both cloud boundaries use.
_TOKEN_IN_TEXT = re.compile(r"(?i)(bearer\s+|access_token[\"'=:\s]+)[^\s\"',;}&]+|ya29\.[\w.\-]+")


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or not host:
        return "<unparseable url>"
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc += f":{port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    return f"{parts.scheme}://{netloc}" + ("/…" if hidden else "")


def redact_text(text: str) -> str:
    """Redact every URL and access token inside free text (exception messages from HTTP
    libraries quote them)."""
    text = _TOKEN_IN_TEXT.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def redact_value(value: Any) -> Any:
    """`redact_text` over every string in a JSON-like value (dicts, lists, tuples), keys included:
    the last line of defence for records and pages assembled from error messages."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
