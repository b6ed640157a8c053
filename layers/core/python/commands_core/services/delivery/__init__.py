"""The delivery kinds: how a command's executions reach its devices. The dispatch steps (services/dispatch.py)
decide when; a kind decides how, each in one module behind `Delivery`:

- job: one AWS IoT job per command (delivery/job.py),
- command: one AWS IoT command, an execution started per thing (delivery/command.py),
- inbox: nothing pushed, the device fetches over HTTP (delivery/inbox.py).

A new kind is one module with a class meeting `Delivery`, and its line in `_KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol

from commands_core.clock import now

if TYPE_CHECKING:
    from datetime import datetime

    from commands_core.models.commands import Command
    from commands_core.models.executions import Execution, ExecutionStatus
    from commands_core.models.jobs import JobSettings
    from commands_core.models.templates import Template
    from commands_core.services.ports import Ports
    from commands_core.services.targets import Targets

_KINDS = {
    "job": "commands_core.services.delivery.job",
    "command": "commands_core.services.delivery.command",
    "inbox": "commands_core.services.delivery.inbox",
}


@dataclass(frozen=True)
class Batch:
    """How starting a batch went: how many starts count against the rate, the last thing dealt with (every
    earlier one too), and whether the rest must wait for AWS IoT (throttled, or in trouble)."""

    started: int
    handled: str
    retry: bool


class Delivery(Protocol):
    kind: ClassVar[str]
    initial_status: ClassVar[ExecutionStatus]  # of the executions an expand writes when nothing paces them
    presigns_files: ClassVar[bool]  # the service presigns file URLs (else AWS IoT does, from its placeholders)
    takes_device_reports: ClassVar[bool]  # devices report their executions over HTTP (else to AWS IoT)
    # The status an execution's next attempt begins in, when a retry policy retries a failure: SCHEDULED when
    # the service must start it (`retry`), else the status AWS IoT or the inbox gives it by itself.
    retry_status: ClassVar[ExecutionStatus]

    def check(self, settings: JobSettings) -> None:
        """InvalidInput naming the setting that does not apply to this kind."""

    def publication(self, command: Command, template: Template) -> dict[str, object]:
        """What publishing sets on the command for this kind (settings frozen from its template)."""

    def deliver(self, ports: Ports, command: Command, targets: Targets, lease: datetime) -> bool:
        """Once an expand holding `lease` has written the executions and frozen the files: hands them to AWS IoT
        (or to the inbox) and moves the dispatch step on; False when the command was cancelled or deleted
        meanwhile (the expand then stops, and cancels)."""

    def start_batch(self, ports: Ports, command: Command, batch: list[Execution]) -> Batch | None:
        """Starts the batch's executions not started yet; None if the command ended meanwhile."""

    def retry(self, ports: Ports, command: Command, execution: Execution) -> None:
        """Starts the execution's next attempt, waiting (in `retry_status`) since a retry policy retried its
        failure, once its command is in progress; nothing to do where AWS IoT or the inbox does it."""

    def all_started(self, ports: Ports, command: Command) -> None:
        """Every execution of the command has started."""

    def stop_starting(self, ports: Ports, command: Command, *, force: bool) -> None:
        """Before a cancel or delete answers: AWS IoT starts nothing more of the command."""

    def cancel(self, ports: Ports, command: Command, *, force: bool) -> int:
        """For a cancelled or deleted command: its pending executions end; the number that did."""

    def cancel_one(self, ports: Ports, command: Command, execution: Execution, *, force: bool) -> str | None:
        """Cancels one execution; the status AWS IoT (or the table) holds for it afterwards."""

    def read_back(self, ports: Ports, command: Command, *, ended: bool = False) -> int:
        """Applies what AWS IoT holds for the command's executions where the table differs (`ended`: AWS IoT
        says it has finished with them); the number that changed."""

    def time_out(self, ports: Ports, command: Command) -> int:
        """Pending executions past their timeout become TIMED_OUT (where AWS IoT does not do it); how many."""

    def fetched(self, ports: Ports, execution: Execution, at: datetime, until: datetime) -> Execution | None:
        """A device's fetch of its pending execution: the execution as handed out, None if not handed out."""

    def release(self, ports: Ports, command: Command) -> None:
        """Once the command has ended: what AWS IoT holds for it alone and no longer needs is removed."""

    def delete(self, ports: Ports, command: Command) -> bool:
        """Once a deleted command's cancel is under way: its AWS IoT resource deleted; True while AWS IoT holds
        that pending."""


def of(kind: str | None) -> Delivery:
    """The delivery of that kind (a command published before kinds were recorded was a job's)."""
    module = importlib.import_module(_KINDS[kind or "job"])
    delivery: Delivery = module.DELIVERY
    return delivery


JOB_ONLY = ("timeout_config",)


def frozen_rollout(command: Command, template: Template) -> dict[str, object]:
    """The rollout settings a paced kind's dispatch steps read on every batch, frozen on publish as the
    template had them where the command gives none (a live change later edits the command's own)."""
    rollout = command.rollout() or template.rollout()
    return {
        "job_executions_rollout_config": rollout,
        "rollout_maximum_per_minute": rollout.maximum_per_minute if rollout else None,
        "waves": command.waves or template.waves,
        "abort_config": command.abort_config or template.abort_config,
        "job_executions_retry_config": command.job_executions_retry_config or template.job_executions_retry_config,
    }


def refuse(settings: JobSettings, names: tuple[str, ...], kind: str) -> None:
    """InvalidInput naming the first of the settings `names` that is set: this kind has no such thing."""
    from commands_core.errors import InvalidInput

    for name in names:
        if getattr(settings, name) is not None:
            field = type(settings).model_fields[name].alias or name
            raise InvalidInput(field, f"applies to delivery job, not {kind}")


def time_out_pending(
    ports: Ports, command: Command, timeout: int, since: Callable[[Execution], datetime | None], grace: timedelta
) -> int:
    """Pending executions whose timer (from `since`, None: not running) passed `timeout` seconds and `grace`
    without an answer become TIMED_OUT, by the cloud (a late device answer may still replace it), or start their
    next attempt where the retry policy says so; how many."""
    from commands_core.services import transitions

    at = now()
    changed = 0
    for execution in ports.commands.pending_executions(command.command_id):
        started = since(execution)
        if started is None or at < started + timedelta(seconds=timeout) + grace:
            continue
        changed += (
            transitions.report(
                ports,
                command.command_id,
                execution.thing_name,
                "TIMED_OUT",
                source="reconciler",
                reason=f"no answer from the device within {timeout} s",
                cloud_timeout=True,
                attempt=execution.attempt,
                restart=ports.queue.send,
            )
            is not None
        )
    return changed


def waiting_retry(execution: Execution) -> bool:
    """Whether the execution's next attempt (a retry policy's) waits for the dispatch queue's retry step to start
    it: SCHEDULED, not started yet (no AWS IoT Commands execution of it)."""
    return execution.status == "SCHEDULED" and execution.attempt > 1 and execution.execution_id is None


def cancel_pending(
    ports: Ports,
    command: Command,
    statuses: frozenset[str],
    also: Callable[[Execution], bool] | None = None,
    reason: str | None = None,
) -> int:
    """The command's pending executions in `statuses` (or for which `also` says so) become CANCELED, `reason`
    saying why (else the command's status); how many."""
    from commands_core.services import transitions

    cancelled = 0
    for execution in ports.commands.pending_executions(command.command_id):
        if execution.status in statuses or (also is not None and also(execution)):
            cancelled += (
                transitions.report(
                    ports,
                    command.command_id,
                    execution.thing_name,
                    "CANCELED",
                    source="api",
                    reason=reason or f"command {command.status}",
                    read=execution,
                )
                is not None
            )
    return cancelled
