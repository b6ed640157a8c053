"""Delivery inbox: nothing is pushed. The executions wait QUEUED until the device fetches them over HTTP
(services/status.py's inbox), and the device reports their progress over HTTP too.

Delivery is at least once: an execution is handed out when QUEUED, and again when it is still SENT after its
lease (the answer that carried it may have been lost); each handed out is SENT with a new lease. One SENT
within its lease is not handed out again (a second fetch meanwhile would duplicate the work), nor one
ACKNOWLEDGED or later (the device has it). An execution not answered within its timeout, counted from
queueing, becomes TIMED_OUT by the cloud.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from commands_core.clock import iso
from commands_core.models import rollout
from commands_core.models.commands import Command
from commands_core.models.dispatch import Start
from commands_core.models.executions import Execution, ExecutionStatus
from commands_core.models.jobs import JobSettings
from commands_core.models.templates import Template
from commands_core.observability import log_keys, logger, metrics
from commands_core.services import transitions
from commands_core.services.delivery import (
    JOB_ONLY,
    Batch,
    Delivery,
    cancel_pending,
    frozen_rollout,
    refuse,
    time_out_pending,
)
from commands_core.services.ports import Ports
from commands_core.services.targets import Targets

# Handed out but not acknowledged: the device has not begun, and is told so; with force, every pending one (the
# device's later reports are then ignored).
_UNREACHED = frozenset({"SCHEDULED", "QUEUED", "SENT"})
_UNREACHED_FORCED = frozenset({"SCHEDULED", "QUEUED", "SENT", "ACKNOWLEDGED", "IN_PROGRESS"})


class InboxDelivery:
    kind: ClassVar[str] = "inbox"
    initial_status: ClassVar[ExecutionStatus] = "QUEUED"
    presigns_files: ClassVar[bool] = True
    takes_device_reports: ClassVar[bool] = True
    # Released by the dispatch queue's retry step (QUEUED, for the device's next fetch) when the command's state
    # and schedule let it start, as the rollout releases the first attempt.
    retry_status: ClassVar[ExecutionStatus] = "SCHEDULED"

    def check(self, settings: JobSettings) -> None:
        refuse(settings, JOB_ONLY, self.kind)

    def publication(self, command: Command, template: Template) -> dict[str, object]:
        # The reconciler reads it on every round, a fetch the operation and the URLs' expiry: frozen, as the
        # template was.
        timeout = command.execution_timeout_seconds or template.execution_timeout_seconds
        handed_out = {
            "operation": template.operation,
            "presigned_url_expires_in_seconds": template.presigned_url_expires_in_seconds,
        }
        return frozen_rollout(command, template) | {"execution_timeout_seconds": timeout} | handed_out

    def deliver(self, ports: Ports, command: Command, targets: Targets, lease: datetime) -> bool:
        if not rollout.paced(command):  # every execution is in the inbox already
            if not ports.commands.advance(
                command.command_id, "queued", lease_until=None, dispatched=len(targets.things)
            ):
                return False
        elif ports.commands.advance(command.command_id, "starting", dispatch_cursor="", lease_until=None):
            ports.queue.send(Start(command_id=command.command_id))  # the rollout releases them
        else:
            return False
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        return True

    def start_batch(self, ports: Ports, command: Command, batch: list[Execution]) -> Batch | None:
        """Releases the batch's SCHEDULED executions to the inbox: QUEUED, a device's fetch hands them out."""
        released = 0
        for execution in batch:
            if execution.status == "SCHEDULED":
                released += (
                    transitions.report(
                        ports,
                        command.command_id,
                        execution.thing_name,
                        "QUEUED",
                        source="api",
                        reason="released by the rollout",
                        read=execution,
                    )
                    is not None
                )
        return Batch(released, batch[-1].thing_name if batch else command.dispatch_cursor or "", retry=False)

    def retry(self, ports: Ports, command: Command, execution: Execution) -> None:
        """Releases the next attempt: QUEUED, for the device's next fetch."""
        self.start_batch(ports, command, [execution])

    def all_started(self, ports: Ports, command: Command) -> None:
        return None

    def stop_starting(self, ports: Ports, command: Command, *, force: bool) -> None:
        return None  # a fetch hands out only executions of commands in progress

    def cancel(self, ports: Ports, command: Command, *, force: bool) -> int:
        return cancel_pending(ports, command, _UNREACHED_FORCED if force else _UNREACHED)

    def cancel_one(self, ports: Ports, command: Command, execution: Execution, *, force: bool) -> str | None:
        return "CANCELED"  # the table is the inbox: nothing else holds it

    def read_back(self, ports: Ports, command: Command, *, ended: bool = False) -> int:
        return 0  # the table is all there is

    def time_out(self, ports: Ports, command: Command) -> int:
        if not command.execution_timeout_seconds:
            return 0
        return time_out_pending(ports, command, command.execution_timeout_seconds, _queued, timedelta(0))

    def fetched(self, ports: Ports, execution: Execution, at: datetime, until: datetime) -> Execution | None:
        """The execution as handed out by this fetch, SENT with its lease until `until`; None when this fetch
        does not hand it out: another fetch did first, its lease has not passed, or the device acknowledged it.
        Both writes are conditional on the execution as read, so that of two fetches at once only one hands it
        out. `execution` is as the inbox index gave it, which may lag the table: the conditions (its state, its
        attempt, its lease) hold the write to it, and when they fail the move decides again on a fresh read."""
        if execution.status == "QUEUED":
            # The move goes through the one transition function, the lease in the same write.
            return transitions.report(
                ports,
                execution.command_id,
                execution.thing_name,
                "SENT",
                source="device",
                reason="fetched from the inbox",
                lease_until=until,
                read=execution,
            )
        if execution.status != "SENT" or (execution.lease_until is not None and execution.lease_until > at):
            return None
        # Still SENT after its lease (or handed out before leases were kept): no acknowledgement came, so the
        # device may never have received it. The state stays SENT; only the lease moves.
        if not ports.commands.renew_lease(execution, until):
            return None
        with log_keys(command_id=execution.command_id, thing_name=execution.thing_name):
            lease = {"lease_was": iso(execution.lease_until) if execution.lease_until else None, "until": iso(until)}
            logger.info("inbox execution handed out again", extra=lease)
        metrics.add_metric(name="InboxHandedOutAgain", unit="Count", value=1)
        return execution.model_copy(update={"lease_until": until})

    def release(self, ports: Ports, command: Command) -> None:
        return None

    def delete(self, ports: Ports, command: Command) -> bool:
        return False


DELIVERY: Delivery = InboxDelivery()


def _queued(execution: Execution) -> datetime | None:
    """When the execution entered the inbox (None: not released yet)."""
    return None if execution.status == "SCHEDULED" else execution.queued_at
