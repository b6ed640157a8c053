"""The core Lambda layer, bundled on this machine with pip for the Lambda platform: no Docker needed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = ROOT / "layers" / "core"
CACHE = ROOT / ".build" / "layer-dependencies"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
_PYTHON_VERSION = "3.13"
_PLATFORM = "manylinux2014_aarch64"


@jsii.implements(ILocalBundling)
class _PipBundling:
    """Installs the layer's requirements as wheels for Lambda's platform, then adds the core package.

    The installed requirements are cached under .build/, keyed by the requirements file, so a synth after the
    first only copies files.
    """

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        target = Path(output_dir) / "python"
        shutil.copytree(dependencies(), target, dirs_exist_ok=True)
        shutil.copytree(
            LAYER_SOURCE / "python",
            target,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        return True


def dependencies() -> Path:
    """The layer's requirements installed for the Lambda platform (cached)."""
    requirements = (LAYER_SOURCE / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + f"{_PLATFORM}/{_PYTHON_VERSION}".encode()).hexdigest()[:16]
    cached = CACHE / key
    if cached.is_dir():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CACHE))
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"),
            *("--requirement", str(LAYER_SOURCE / "requirements.txt"), "--target", str(staging)),
            *("--platform", _PLATFORM, "--implementation", "cp", "--python-version", _PYTHON_VERSION),
            "--only-binary=:all:",
        ],
        check=True,
    )
    try:
        staging.rename(cached)
    except OSError:  # another synth at once (a parallel test worker) cached it first: the same files
        if not cached.is_dir():
            raise
        shutil.rmtree(staging)
    return cached


class CoreLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description="Core package of the IoT Commands Service with Powertools, pydantic and boto3",
            code=lambda_.Code.from_asset(
                str(LAYER_SOURCE),
                bundling=BundlingOptions(
                    # Never pulled: the local bundling always succeeds. CDK requires an image all the same.
                    image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
                    local=_PipBundling(),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
