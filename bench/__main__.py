"""`make bench`: runs every benchmark and writes bench/results.json. `make bench BENCH=<name>` runs the
named ones only; the file keeps the others' figures, and says when and where each was measured."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_start, delivery, fleet, lifecycle, rollout

RESULTS = Path(__file__).resolve().parent / "results.json"
BENCHES: dict[str, Callable[[], dict[str, Any]]] = {
    "cold_start_ratio": cold_start.measure,
    "fanout_10k": delivery.fanout_10k,
    "rate_accuracy": delivery.rate_accuracy,
    "fleet_2000": fleet.fleet_2000,  # hours: ten rounds of three commands for 2,000 things
    "rollout_waves": rollout.rollout_waves,  # a rollout in three waves per delivery, 2,000 things
    "rollout_lifecycle": lifecycle.rollout_lifecycle,  # preview, schedule, retries, joiners, rerun; 2,000 things
}


def record(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Writes one benchmark's figures into bench/results.json, with when and where they were measured."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not isinstance(results.get("measured_at"), dict):  # the file of a run of every benchmark at once
        results["measured_at"] = dict.fromkeys(BENCHES, results.get("measured_at"))
    results["measured_at"][name] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"] = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    results[name] = figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(names: list[str]) -> None:
    if unknown := sorted(set(names) - set(BENCHES)):
        sys.exit(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    for name in names or BENCHES:
        results = record(name, BENCHES[name]())
        print(json.dumps({name: results[name]}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
