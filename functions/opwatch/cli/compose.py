"""The composition root of the local runtime (the `opwatch` command, the devnet).

An operator's machine may reach either cloud (a remedy against a bucket, `opwatch audit` on a
deployed table), so the local registry holds both clouds' implementations; each is imported
only when the config names it.
"""

from __future__ import annotations

from ..aws.backends import register as register_aws
from ..backends import core_registry
from ..gcp.backends import register as register_gcp
from ..registry import Registry


def registry() -> Registry:
    return register_gcp(register_aws(core_registry()))
