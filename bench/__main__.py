"""`make bench`: runs every benchmark and writes bench/results.json."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import cold_start, delivery

RESULTS = Path(__file__).resolve().parent / "results.json"


def main() -> None:
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "cold_start_ratio": cold_start.measure(),
        "fanout_10k": delivery.fanout_10k(),
        "rate_accuracy": delivery.rate_accuracy(),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
