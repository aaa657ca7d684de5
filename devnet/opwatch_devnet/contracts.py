"""Deploys the real OP Stack L1 contracts the watchdog reads.

Uses the artifacts from npm `@eth-optimism/contracts-bedrock`. As in a real deployment, the
`L2OutputOracle` implementation sits behind the bedrock `Proxy` (admin = deployer) and is
initialised through `upgradeToAndCall`, because its constructor takes no arguments.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from opwatch_devnet.anvil import _REPO_ROOT
from opwatch_devnet.jsonrpc import RpcClient, RpcError
from opwatch_devnet.keys import Role

ARTIFACTS = _REPO_ROOT / "node_modules/@eth-optimism/contracts-bedrock/forge-artifacts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def artifact(name: str) -> Artifact:
    data = json.loads((ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"]["object"])


def artifact_runtime(name: str) -> str:
    """The deployed (runtime) bytecode of a contract, for predeploys installed with anvil_setCode."""
    data = json.loads((ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text())
    return str(data["deployedBytecode"]["object"])


@dataclass(frozen=True)
class OracleParams:
    submission_interval: int
    l2_block_time: int
    starting_block_number: int
    starting_timestamp: int
    proposer: str
    challenger: str
    # The window in which the oracle's CHALLENGER may still delete a wrong output
    # (deleteL2Outputs refuses finalized ones): the bad-output heal needs it to outlast a
    # detection and a test's waits; OP Mainnet's was 7 days.
    finalization_period_seconds: int = 3600


@dataclass(frozen=True)
class L1Deployment:
    l2_output_oracle: str  # the Proxy address: what a config names
    l2_output_oracle_impl: str


class Sender:
    """Signs with eth-account and sends raw transactions; nonces are tracked locally."""

    def __init__(self, client: RpcClient, role: Role, chain_id: int) -> None:
        self.client = client
        self.role = role
        self.chain_id = chain_id

    def nonce(self, tag: str = "pending") -> int:
        return int(self.client.call("eth_getTransactionCount", self.role.address, tag), 16)

    def fees(self, bump: float = 1.0) -> tuple[int, int]:
        base = int(self.client.block("latest")["baseFeePerGas"], 16)  # type: ignore[index]
        tip = 10**9
        return int((2 * base + tip) * bump), int(tip * bump)

    def send(
        self, to: str | None, data: bytes, gas: int, nonce: int | None = None, bump: float = 1.0,
        value: int = 0,
    ) -> str:
        from eth_account import Account

        max_fee, tip = self.fees(bump)
        tx: dict[str, Any] = {
            "type": 2, "chainId": self.chain_id, "nonce": self.nonce() if nonce is None else nonce,
            "value": value, "data": data, "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
        }
        if to is not None:
            tx["to"] = _checksum(to)
        signed = Account.sign_transaction(tx, self.role.key)
        return str(self.client.call("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex()))

    def wait(self, tx_hash: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipt = self.client.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"transaction {tx_hash} reverted")
                return dict(receipt)
            time.sleep(0.1)
        raise TimeoutError(f"transaction {tx_hash} not mined within {timeout}s")


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def contract_address(sender: str, nonce: int) -> str:
    import rlp
    from eth_utils import keccak

    return _checksum("0x" + keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:].hex())


def encode_call(name: str, fn: str, args: list[Any]) -> bytes:
    from web3 import Web3

    contract = Web3().eth.contract(abi=artifact(name).abi)
    return bytes.fromhex(contract.encode_abi(fn, args=args)[2:])


def decode_result(name: str, fn: str, data: str) -> tuple[Any, ...]:
    from eth_abi import decode

    entry = next(e for e in artifact(name).abi if e.get("name") == fn and e["type"] == "function")
    return tuple(decode([_abi_type(o) for o in entry["outputs"]], bytes.fromhex(data[2:])))


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


def call(client: RpcClient, name: str, address: str, fn: str, args: list[Any] | None = None) -> tuple[Any, ...]:
    data = "0x" + encode_call(name, fn, args or []).hex()
    return decode_result(name, fn, client.call("eth_call", {"to": address, "data": data}, "latest"))


def would_succeed(sender: Sender, address: str, data: bytes, value: int = 0) -> bool:
    """Whether `sender` calling `address` with `data` succeeds at the latest block (an eth_call
    from that account): actors ask before sending a move or a resolution whose clock may not
    have run out yet, instead of paying for a reverted transaction."""
    try:
        sender.client.call("eth_call", {"from": sender.role.address, "to": address, "data": "0x" + data.hex(),
                                        "value": hex(value)}, "latest")
    except RpcError:
        return False
    return True


def constructor_args(name: str, args: list[Any]) -> bytes:
    from eth_abi import encode

    ctor = next(e for e in artifact(name).abi if e["type"] == "constructor")
    return bytes(encode([_abi_type(i) for i in ctor["inputs"]], args))


def deploy(deployer: Sender, name: str, args: list[Any] | None = None, nonce: int | None = None) -> str:
    """A plain contract (no proxy), sent without waiting; returns its address."""
    nonce = deployer.nonce() if nonce is None else nonce
    code = bytes.fromhex(artifact(name).bytecode[2:]) + (constructor_args(name, args) if args else b"")
    deployer.send(None, code, gas=12_000_000, nonce=nonce)
    return contract_address(deployer.role.address, nonce)


def deploy_behind_proxy(deployer: Sender, name: str, init: bytes, args: list[Any] | None = None) -> tuple[str, str]:
    """Proxy(admin=deployer), the implementation, then upgradeToAndCall(impl, init): how OP
    Stack deployments install a contract (the implementations initialise themselves in their
    constructors, so only the proxy's storage is ever used).

    The three transactions go out back to back with consecutive nonces (addresses are known in
    advance), so a deployment costs about one L1 block instead of three. Returns (proxy, impl).
    """
    from eth_abi import encode

    nonce = deployer.nonce()
    proxy_address = contract_address(deployer.role.address, nonce)
    impl_address = contract_address(deployer.role.address, nonce + 1)
    proxy_code = bytes.fromhex(artifact("Proxy").bytecode[2:]) + encode(["address"], [deployer.role.address])
    deployer.send(None, proxy_code, gas=3_000_000, nonce=nonce)
    impl_code = bytes.fromhex(artifact(name).bytecode[2:]) + (constructor_args(name, args) if args else b"")
    deployer.send(None, impl_code, gas=8_000_000, nonce=nonce + 1)
    upgrade = encode_call("Proxy", "upgradeToAndCall", [impl_address, init])
    deployer.wait(deployer.send(proxy_address, upgrade, gas=1_000_000, nonce=nonce + 2))
    return proxy_address, impl_address


def deploy_l2_output_oracle(deployer: Sender, params: OracleParams) -> L1Deployment:
    init = encode_call("L2OutputOracle", "initialize", [
        params.submission_interval, params.l2_block_time, params.starting_block_number,
        params.starting_timestamp, _checksum(params.proposer), _checksum(params.challenger),
        params.finalization_period_seconds,
    ])
    proxy, impl = deploy_behind_proxy(deployer, "L2OutputOracle", init)
    return L1Deployment(l2_output_oracle=proxy, l2_output_oracle_impl=impl)


def deploy_dispute_game_factory(deployer: Sender) -> str:
    """The real DisputeGameFactory behind a Proxy, owned by the deployer; returns the proxy."""
    init = encode_call("DisputeGameFactory", "initialize", [_checksum(deployer.role.address)])
    proxy, _ = deploy_behind_proxy(deployer, "DisputeGameFactory", init)
    return proxy


def register_game_type(deployer: Sender, factory: str, game_type: int, implementation: str) -> None:
    """setImplementation(type, impl). `create` clones the implementation and calls
    `initialize()` on the clone; an implementation address without code accepts that call,
    which is enough for games whose only job on the devnet is to exist with a timestamp."""
    data = encode_call("DisputeGameFactory", "setImplementation", [game_type, _checksum(implementation)])
    deployer.wait(deployer.send(factory, data, gas=200_000))


def create_game(sender: Sender, factory: str, game_type: int, root_claim: bytes, extra_data: bytes) -> None:
    data = encode_call("DisputeGameFactory", "create", [game_type, root_claim, extra_data])
    sender.wait(sender.send(factory, data, gas=1_000_000))


def deploy_system_config(deployer: Sender, batcher: str, batch_inbox: str) -> str:
    """The real SystemConfig behind a Proxy, initialised as an OP Stack chain's: owner the
    deployer, batcherHash the batcher (left-padded), a resource config inside its own checks.
    Returns the proxy's address."""
    resource = (20_000_000, 10, 8, 10**9, 1_000_000, 2**128 - 1)
    batcher_hash = bytes(12) + bytes.fromhex(batcher[2:])
    no_addresses = ("0x" + "00" * 20,) * 7
    init = encode_call("SystemConfig", "initialize", [
        deployer.role.address, 0, 0, batcher_hash, 30_000_000, deployer.role.address, resource,
        _checksum(batch_inbox), no_addresses])
    proxy, _ = deploy_behind_proxy(deployer, "SystemConfig", init)
    return proxy


def set_batcher(deployer: Sender, system_config: str, batcher: str) -> None:
    """Rotate the batcher on SystemConfig (owner only), as an operator does."""
    call_data = encode_call("SystemConfig", "setBatcherHash", [bytes(12) + bytes.fromhex(batcher[2:])])
    deployer.wait(deployer.send(system_config, call_data, gas=200_000))


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)
