"""The Lambda code asset, built without Docker: pinned wheels for the Lambda platform plus opwatch.

    python -m infra.bundling OUT_DIR [--config opwatch.toml] [--platform x86_64]   # build it by hand

One asset serves every function (the handler differs): `pip install --platform
manylinux2014_aarch64 --only-binary=:all: --python-version 3.14 --no-deps` of exactly the
packages in `BUNDLED`, at the versions pinned in requirements.lock, then the `opwatch`
package and the config file (as `opwatch.toml`). `--no-deps` with explicit pins keeps the
bundle to what the handlers import: boto3/botocore come from the Lambda runtime (they are
25 MB unzipped, and aws-xray-sdk would otherwise pull botocore in), and web3 is never in
(the core's JSON-RPC client is stdlib). `--no-compile` and content-only hashing make the
asset reproducible: the same lock, sources and config give the same asset hash.

`PRUNE` drops what no handler imports: pycryptodome's self-tests and everything in it but
hashing (opwatch uses its keccak only), Powertools' event handler (API Gateway/AppSync
routing), console scripts. `infra.measure` imports the pruned bundle to prove it works.

A bundle may add `extras` (the top-up remedy signs transactions with eth-account): those
are installed with their dependencies, constrained to requirements.lock, into their own
asset, so no check or pager bundle carries them.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "opwatch"
LOCK = ROOT / "requirements.lock"
PYTHON_VERSION = "3.14"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PLATFORMS = {"aarch64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# What the handlers import (Logger/Metrics/Tracer/Parameters/Idempotency/data classes,
# X-Ray for the Tracer, keccak for config addresses), and nothing else.
BUNDLED = ("aws-lambda-powertools", "aws-xray-sdk", "wrapt", "jmespath", "typing-extensions", "pycryptodome")
PRUNE = ("Crypto/SelfTest", "aws_lambda_powertools/event_handler", "bin", "docs", "newsfragments")
# Only keccak is used, unless an extra (eth-keyfile, under eth-account) needs the ciphers.
PRUNE_CRYPTO = ("Crypto/Cipher", "Crypto/PublicKey", "Crypto/Signature", "Crypto/Protocol", "Crypto/IO")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path = LOCK) -> list[str]:
    """`name==version` for each bundled package, from requirements.lock (all must be pinned there)."""
    pinned = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pinned[_norm(name)] = f"{name}=={version.strip()}"
    missing = [p for p in BUNDLED if _norm(p) not in pinned]
    if missing:
        raise RuntimeError(f"not pinned in {lock.name}: {', '.join(missing)}")
    return [pinned[_norm(p)] for p in BUNDLED]


@dataclass(frozen=True)
class BundleSpec:
    config_text: str
    platform: str = "aarch64"
    python_version: str = PYTHON_VERSION  # another one only to import a bundle on this machine (infra.measure)
    extras: tuple[str, ...] = ()  # installed with their dependencies, pinned by requirements.lock

    def prune(self) -> tuple[str, ...]:
        return PRUNE if self.extras else PRUNE + PRUNE_CRYPTO

    def asset_hash(self) -> str:
        """Content hash of everything that goes into the bundle."""
        digest = hashlib.sha256()
        lock = LOCK.read_text() if self.extras else ""  # the extras' dependencies are pinned there
        for part in (self.python_version, PLATFORMS[self.platform], *self.prune(), *pins(), *self.extras, lock,
                     self.config_text):
            digest.update(part.encode() + b"\0")
        for path in sorted(PACKAGE.rglob("*.py")):
            digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()


def build(out: Path, spec: BundleSpec) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
           "--only-binary=:all:", "--platform", PLATFORMS[spec.platform], "--implementation", "cp",
           "--python-version", spec.python_version, "--target", str(out)]
    subprocess.run([*pip, "--no-deps", *pins()], check=True)
    if spec.extras:
        subprocess.run([*pip, "--upgrade", "-c", str(LOCK), *spec.extras], check=True)
    for rel in spec.prune():
        shutil.rmtree(out / rel, ignore_errors=True)
    shutil.copytree(PACKAGE, out / "opwatch", ignore=_IGNORE, dirs_exist_ok=True)
    (out / "opwatch.toml").write_text(spec.config_text)
    return out


@jsii.implements(ILocalBundling)
class _LocalPip:
    def __init__(self, spec: BundleSpec) -> None:
        self.spec = spec

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: object) -> bool:
        build(Path(output_dir), self.spec)
        return True


def lambda_code(config_text: str, extras: tuple[str, ...] = ()) -> lambda_.Code:
    """The asset for the functions (and, with `extras`, for one that needs more).
    Never Docker: the local bundler always succeeds or raises."""
    spec = BundleSpec(config_text, extras=extras)
    return lambda_.Code.from_asset(
        str(ROOT / "functions"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=spec.asset_hash(),
        exclude=["**/__pycache__", "*.egg-info"],
        bundling=BundlingOptions(image=DockerImage.from_registry("opwatch/no-docker-needed"), local=_LocalPip(spec)),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", type=Path, default=ROOT / "opwatch.toml")
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="aarch64")
    args = parser.parse_args(argv)
    spec = BundleSpec(args.config.read_text(), args.platform)
    shutil.rmtree(args.out, ignore_errors=True)
    build(args.out, spec)
    print(f"{args.out} ({spec.platform}, asset hash {spec.asset_hash()[:16]})")


if __name__ == "__main__":
    main()
