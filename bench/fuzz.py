"""`make fuzz`: schemathesis against the local runtime, from the OpenAPI document it serves, over every route.

Started as the e2e tests start it (its own free loopback ports). Every generated request, valid or not, must
get no 5xx and a response the document describes (status, media type, body schema). The summary goes to
bench/fuzz.json; any failure fails the run. `make test` runs the same with a small budget.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parent / "fuzz.json"
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance", "content_type_conformance")


@dataclass(frozen=True)
class Budget:
    max_examples: int  # test cases per operation and phase
    phases: str


FULL = Budget(100, "coverage,fuzzing")
SMALL = Budget(10, "fuzzing")


def run(url: str, budget: Budget, *, seed: int = 8) -> dict[str, Any]:
    """Fuzzes the API at `url`; the summary: requests sent, failures per check (and their first few cases),
    errors (operations schemathesis could not generate for), seconds."""
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.ndjson"
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/openapi.json",
                "--url",
                url,
                "--checks",
                ",".join(CHECKS),
                "--mode",
                "all",  # invalid requests too: they must be a 4xx the document lists, never a 5xx
                "--max-examples",
                str(budget.max_examples),
                "--phases",
                budget.phases,
                "--seed",
                str(seed),
                "--workers",
                "2",
                "--continue-on-failure",
                "--no-color",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(events),
            ],
            check=False,  # the summary says what failed
            stdout=subprocess.DEVNULL,
            cwd=folder,  # where schemathesis keeps its cache: nothing is left in the project
        )
        seconds = time.perf_counter() - started
        return _summary(events, seconds) | {"max_examples": budget.max_examples, "phases": budget.phases, "seed": seed}


def _summary(events: Path, seconds: float) -> dict[str, Any]:
    requests = 0
    operations: set[str] = set()
    failures: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    errors: list[str] = []
    for line in events.read_text().splitlines():
        kind, event = next(iter(json.loads(line).items()))
        if kind == "NonFatalError":
            errors.append(f"{event.get('label')}: {str(event.get('value', {}).get('message', ''))[:200]}")
        if kind != "ScenarioFinished":
            continue
        recorder = event["recorder"]
        operations.add(recorder["label"])
        interactions = recorder.get("interactions") or {}
        requests += len(interactions)
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if not check.get("failure_info"):
                    continue
                failures[check["name"]] += 1
                if len(examples) < 10:
                    examples.append(_case(check, recorder["cases"][case_id]["value"], interactions.get(case_id)))
    return {
        "requests": requests,
        "operations": len(operations),
        "failures": {check: failures.get(check, 0) for check in CHECKS},
        "failed_cases": examples,
        "errors": errors,
        "seconds": round(seconds, 1),
    }


def _case(check: dict[str, Any], case: dict[str, Any], interaction: dict[str, Any] | None) -> dict[str, Any]:
    """A failed case as a reader can replay it: the request, the check, and the answer."""
    response = (interaction or {}).get("response") or {}
    content = response.get("content") or {}
    answer = base64.b64decode(content["$base64"]).decode(errors="replace") if "$base64" in content else ""
    return {
        "check": check["name"],
        "request": {key: case.get(key) for key in ("method", "path", "path_parameters", "query", "headers", "body")},
        "status": response.get("status_code"),
        "answer": answer[:300],
    }


def passed(summary: dict[str, Any]) -> bool:
    return not any(summary["failures"].values()) and not summary["errors"]


def main() -> None:
    from tests.e2e.conftest import start, stop

    runtime = start({"POWERTOOLS_LOG_LEVEL": "ERROR"})
    try:
        summary = run(runtime.url, FULL)
    finally:
        stop(runtime)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    sys.exit(0 if passed(summary) else 1)


if __name__ == "__main__":
    main()
