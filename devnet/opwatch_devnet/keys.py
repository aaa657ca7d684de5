"""Devnet keys and well-known addresses.

These are anvil's published test keys, never use elsewhere: they are derived from the public
mnemonic "test test ... junk" and every account on every public chain holding them is drained.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# anvil's published test keys, never use elsewhere.
ANVIL_TEST_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",  # account 0
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",  # account 1
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",  # account 2
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",  # account 3
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",  # account 4
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",  # account 5
)


@dataclass(frozen=True)
class Role:
    name: str
    key: str

    @property
    def address(self) -> str:
        return _address_of(self.key)


@cache
def _address_of(key: str) -> str:
    from eth_account import Account  # deferred: no work at import time

    return str(Account.from_key(key).address)


DEPLOYER = Role("deployer", ANVIL_TEST_KEYS[0])  # also the funder and the Proxy admin
BATCHER = Role("batcher", ANVIL_TEST_KEYS[1])
PROPOSER = Role("proposer", ANVIL_TEST_KEYS[2])
WITHDRAWER = Role("withdrawer", ANVIL_TEST_KEYS[3])  # an L2 user sending withdrawals
CHALLENGER = Role("challenger", ANVIL_TEST_KEYS[4])  # the honest challenger of dispute games
GRIEFER = Role("griefer", ANVIL_TEST_KEYS[5])  # creates a game with a wrong root (fault bad-game)


def batch_inbox_for(l2_chain_id: int) -> str:
    """The conventional batch inbox: 0xff00…00 followed by the L2 chain id in decimal digits."""
    digits = str(l2_chain_id)
    return "0xff" + "0" * (38 - len(digits)) + digits
