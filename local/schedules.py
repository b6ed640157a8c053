"""Emulation of the stack's EventBridge schedules: each scheduled function runs every `every_seconds` (the
deployed rates are minutes; locally a shorter beat keeps the feedback quick)."""

from __future__ import annotations

import threading

from commands_core.wiring import SCHEDULES
from local.lambdas import Functions

_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def start(functions: Functions, stop: threading.Event, every_seconds: float) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(every_seconds):
            for schedule in SCHEDULES:
                try:
                    functions.invoke(schedule.function, _EVENT)
                except Exception as error:  # a failed run is retried at the next beat, as EventBridge would
                    print(f"{schedule.function} failed: {error!r}")

    thread = threading.Thread(target=loop, daemon=True, name="schedules")
    thread.start()
    return thread
