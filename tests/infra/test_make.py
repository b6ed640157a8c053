"""What `make` says while it installs the Python packages: a line saying what and how long, then a line per
pip stage, not pip's line per package (nor, with --quiet, minutes of nothing)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for the venv's python: prints what pip prints while installing requirements-dev.txt.
_PIP = """#!/bin/sh
case "$*" in *"-r requirements-dev.txt"*) ;; *) exit 0 ;; esac
echo "Collecting boto3==1.44.5 (from -r layers/core/requirements.txt (line 4))"
echo "Collecting moto[server]==5.2.5 (from -r requirements-dev.txt (line 3))"
echo "Installing collected packages: boto3, moto"
echo "Successfully installed boto3-1.44.5 moto-5.2.5"
exit "${PIP_EXIT:-0}"
"""


def _install(tmp_path: Path, pip_exit: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(_PIP)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "install", f"VENV={venv}"],
        cwd=ROOT,
        env=os.environ | {"PIP_EXIT": str(pip_exit)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, venv / ".installed"


def test_installing_says_what_and_how_long_then_one_line_per_stage(tmp_path: Path) -> None:
    done, installed = _install(tmp_path, pip_exit=0)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Installing the Python packages of requirements-dev.txt")
    assert "minutes" in lines[0]
    assert lines[1:] == ["Installing collected packages: boto3, moto", "Successfully installed boto3-1.44.5 moto-5.2.5"]
    assert installed.exists()


def test_a_failing_pip_fails_the_install(tmp_path: Path) -> None:
    done, installed = _install(tmp_path, pip_exit=1)

    assert done.returncode != 0
    assert not installed.exists()
