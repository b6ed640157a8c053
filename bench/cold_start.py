"""cold_start_ratio: how much a handler's import costs next to `import boto3`.

For each handler, the median wall time of a fresh `python -c "import handler"` (from its folder, with the core
layer on the path and the settings a deployed function has) divided by the median of a fresh
`python -c "import boto3"`, the two measured interleaved so that both see the same machine load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from commands_core.wiring import functions as wiring_functions
from local import aws as local_aws

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core" / "python"


def _seconds(command: str, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", command], cwd=cwd, env=env, check=True)
    return time.perf_counter() - started


def measure(runs: int = 21) -> dict[str, Any]:
    env = os.environ | local_aws.environment(aws_port=None) | {"PYTHONPATH": str(LAYER)}
    functions = [function.function for function in wiring_functions()]
    baseline: list[float] = []
    imports: dict[str, list[float]] = {function: [] for function in functions}
    for _ in range(runs):
        for function in functions:
            baseline.append(_seconds("import boto3", ROOT, env))
            imports[function].append(_seconds("import handler", ROOT / "lambdas" / function, env))
    boto3_median = statistics.median(baseline)
    ratios = {function: round(statistics.median(times) / boto3_median, 3) for function, times in imports.items()}
    return {
        "max": max(ratios.values()),
        "target": 1.5,
        "per_handler": ratios,
        "median_import_ms": {
            function: round(statistics.median(times) * 1000, 1) for function, times in imports.items()
        },
        "median_import_boto3_ms": round(boto3_median * 1000, 1),
        "runs_each": runs,
        "python": sys.version.split()[0],
    }
