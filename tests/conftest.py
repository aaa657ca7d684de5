"""Shared fixtures. `devnet`: one local OP Stack devnet (real anvil nodes) per test session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

# Properties are about behaviour, not speed: a 2-core CI box running anvil beside them must
# not turn a slow example into a failure (speed is measured in bench/, not in tests).
settings.register_profile("opwatch", deadline=None)
settings.load_profile("opwatch")

if TYPE_CHECKING:
    from opwatch_devnet.topology import Devnet


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    from opwatch_devnet.topology import Devnet

    with Devnet.start(tmp_path_factory.mktemp("devnet")) as net:
        yield net
