"""A function's first request in a fresh process, as a Lambda cold start pays it (the standard library only).

`python bench/first_request.py <folder> <event.json> <function>`: puts the folder on sys.path, imports its
handler module, calls `lambda_handler` once with the event and a Lambda context, and prints one JSON line last:
`time.monotonic()` when the import was done and when the response was in hand (CLOCK_MONOTONIC is system-wide on
Linux, so the process that spawned this one reads the same clock), its peak RSS, and what the response says.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import uuid
from typing import Any


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "cold"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def first_request(folder: str, event: dict[str, Any], function: str) -> tuple[float, Any]:
    """Imports the handler of `folder` and answers `event`: when the import was done, and the response."""
    sys.path.insert(0, folder)
    import handler  # type: ignore[import-not-found]

    imported = time.monotonic()
    return imported, handler.lambda_handler(event, Context(function))


def outcome(response: Any) -> dict[str, Any]:
    """What says whether the request succeeded: an API response's status, a consumer's failed messages."""
    if not isinstance(response, dict):
        return {"status": None, "failures": None}
    return {"status": response.get("statusCode"), "failures": len(response.get("batchItemFailures") or [])}


def peak_rss_kb() -> int:
    """The process's peak RSS since it started: VmHWM. ru_maxrss is not that here: Linux carries it over an exec
    from the forked copy of the spawning process, so a small child reports its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def main(folder: str, event_path: str, function: str) -> None:
    with open(event_path) as file:
        event = json.load(file)
    imported, response = first_request(folder, event, function)
    answered = time.monotonic()
    print(json.dumps({"imported": imported, "answered": answered, "peak_rss_kb": peak_rss_kb()} | outcome(response)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
