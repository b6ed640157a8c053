"""`make bench`: runs every benchmark and writes bench/results.json. `make bench BENCH=<name>` runs the
named ones only; the file keeps the others' figures, and says when and where each was measured.

A benchmark answers its figures under one or more top-level keys of the file (cold_start: two)."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_start, cost, delivery, fleet, ingest, lifecycle, rollout

RESULTS = Path(__file__).resolve().parent / "results.json"
Bench = Callable[[], dict[str, Any]]  # its figures by top-level key


def _keyed(key: str, bench: Bench) -> Bench:
    """A benchmark whose figures are the one key of its name."""
    return lambda: {key: bench()}


BENCHES: dict[str, Bench] = {
    "cold_start": cold_start.measure,  # cold_start_vs_handwritten and rss_first_request
    "fanout_10k": _keyed("fanout_10k", delivery.fanout_10k),
    "rate_accuracy": _keyed("rate_accuracy", delivery.rate_accuracy),
    # hours: ten rounds of three commands for 2,000 things
    "fleet_2000": _keyed("fleet_2000", fleet.fleet_2000),
    # a rollout in three waves per delivery, 2,000 things
    "rollout_waves": _keyed("rollout_waves", rollout.rollout_waves),
    # preview, schedule, retries, joiners, rerun; 2,000 things
    "rollout_lifecycle": _keyed("rollout_lifecycle", lifecycle.rollout_lifecycle),
    # AWS calls and DynamoDB units of one execution's life, per delivery, against the least it needs
    "cost_per_execution": _keyed("cost_per_execution", cost.cost_per_execution),
    # 100,000 execution events through the status consumer: its rate and the busiest item's writes a second
    "ingest_100k": _keyed("ingest_100k", ingest.ingest_100k),
}


def record(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Writes one benchmark's figures (by top-level key) into bench/results.json, with when and where they were
    measured."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not isinstance(results.get("measured_at"), dict):  # the file of a run of every benchmark at once
        results["measured_at"] = dict.fromkeys(BENCHES, results.get("measured_at"))
    results["measured_at"][name] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"] = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    results |= figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(names: list[str]) -> None:
    if unknown := sorted(set(names) - set(BENCHES)):
        sys.exit(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    for name in names or BENCHES:
        figures = BENCHES[name]()
        results = record(name, figures)
        print(json.dumps({key: results[key] for key in figures}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
