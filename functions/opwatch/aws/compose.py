"""The composition root of the AWS runtime: everything its functions need, built from the one config."""

from __future__ import annotations

from ..backends import core_registry
from ..registry import Registry
from .backends import register


def registry() -> Registry:
    """The core's implementations and AWS's, under the names the config uses."""
    return register(core_registry())
