"""Pub/Sub subscription filters: the subset opwatch renders, and an evaluator for it.

One module both writes the filter expressions that go into the gcloud plan and evaluates
them, so the routing the plan promises is the routing the tests check. The subset follows
Pub/Sub's filter syntax (https://cloud.google.com/pubsub/docs/subscription-message-filter):

    attributes.KEY = "value"      attributes.KEY != "value"
    attributes:KEY                (the attribute exists)
    hasPrefix(attributes.KEY, "prefix")
    NOT x      x AND y AND ...      x OR y OR ...      ( x )

As in Pub/Sub, AND and OR do not mix without parentheses, and a filter is at most 256
bytes: `narrowest` picks the first of several candidate filters that fits (the plan's network
clause, then none: docs/gcp.md, "Many networks"). Pub/Sub fixes a subscription's filter when
it is created; changing one means a new subscription (docs/gcp.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

MAX_FILTER_BYTES = 256
_KEY = re.compile(r"[A-Za-z0-9_-]+")  # matched whole: `$` accepts a trailing newline
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|:|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_.-]*))')

Predicate = Callable[[Mapping[str, str]], bool]


class FilterSyntaxError(ValueError):
    pass


# --- rendering ---------------------------------------------------------------------------

def quote(value: str) -> str:
    return json.dumps(value)


def equals(key: str, value: str) -> str:
    _check_key(key)
    return f"attributes.{key} = {quote(value)}"


def any_of(key: str, values: Sequence[str]) -> str:
    """`attributes.K = "a" OR attributes.K = "b"`, parenthesised when there are several."""
    parts = [equals(key, v) for v in dict.fromkeys(values)]
    if not parts:
        raise ValueError(f"no values for attributes.{key}")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def all_of(*clauses: str) -> str:
    clauses = tuple(c for c in clauses if c)
    text = " AND ".join(clauses)
    if len(text.encode()) > MAX_FILTER_BYTES:
        raise ValueError(f"filter is {len(text.encode())} bytes, over Pub/Sub's {MAX_FILTER_BYTES}: {text}")
    return text


def fits(expression: str) -> bool:
    return len(expression.encode()) <= MAX_FILTER_BYTES


def narrowest(*candidates: Sequence[str]) -> str:
    """The first candidate (its clauses ANDed) within Pub/Sub's 256 bytes. Callers list the
    narrowest first and end with one that always fits; ValueError if none does."""
    for clauses in candidates:
        text = " AND ".join(c for c in clauses if c)
        if fits(text):
            return text
    return all_of(*candidates[-1])  # raises, naming the size


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"attribute key {key!r} is not filterable")


# --- evaluation ----------------------------------------------------------------------------

def matches(expression: str, attributes: Mapping[str, str]) -> bool:
    """True if a message with these attributes passes the filter ("" passes everything)."""
    return compile_filter(expression)(attributes)


def compile_filter(expression: str) -> Predicate:
    if not expression.strip():
        return lambda _attrs: True
    if len(expression.encode()) > MAX_FILTER_BYTES:
        raise FilterSyntaxError(f"filter over {MAX_FILTER_BYTES} bytes")
    parser = _Parser(_tokens(expression))
    predicate = parser.expression()
    if parser.peek() is not None:
        raise FilterSyntaxError(f"unexpected {parser.peek()!r} in {expression!r}")
    return predicate


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise FilterSyntaxError(f"cannot parse {text[pos:]!r}")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FilterSyntaxError(f"expected {expected or 'a term'}, got {token!r}")
        self.pos += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.term()]
        joiner = None
        while self.peek() in ("AND", "OR"):
            op = self.take()
            if joiner is not None and op != joiner:
                raise FilterSyntaxError("AND and OR cannot be mixed without parentheses")
            joiner = op
            terms.append(self.term())
        if joiner == "OR":
            return lambda a: any(t(a) for t in terms)
        return lambda a: all(t(a) for t in terms)

    def term(self) -> Predicate:
        if self.peek() in ("NOT", "-"):
            self.take()
            inner = self.term()
            return lambda a: not inner(a)
        if self.peek() == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        if self.peek() == "hasPrefix":
            self.take()
            self.take("(")
            key = self._attribute(self.take())
            self.take(",")
            prefix = self._string(self.take())
            self.take(")")
            return lambda a: key in a and a[key].startswith(prefix)
        word = self.take()
        if word == "attributes" and self.peek() == ":":
            self.take(":")
            key = self.take()
            _check_key(key)
            return lambda a: key in a
        key = self._attribute(word)
        op = self.take()
        if op not in ("=", "!="):
            raise FilterSyntaxError(f"unsupported operator {op!r}")
        value = self._string(self.take())
        if op == "=":
            return lambda a: a.get(key) == value
        # Pub/Sub: `attributes.k != "v"` is true when k is absent, too.
        return lambda a: a.get(key) != value

    @staticmethod
    def _attribute(word: str) -> str:
        if not word.startswith("attributes.") or not _KEY.fullmatch(word[len("attributes."):]):
            raise FilterSyntaxError(f"expected attributes.KEY, got {word!r}")
        return word[len("attributes."):]

    @staticmethod
    def _string(token: str) -> str:
        if not token.startswith('"'):
            raise FilterSyntaxError(f"expected a quoted string, got {token!r}")
        value: str = json.loads(token)
        return value
