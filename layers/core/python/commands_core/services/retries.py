"""Retries: an execution whose attempt ends FAILED or TIMED_OUT starts again while its command's retry policy
(`jobExecutionsRetryConfig`, AWS IoT Jobs' shape, frozen on publish) allows, for every delivery kind.

The policy is AWS IoT's: each criterion gives a failure type (FAILED, TIMED_OUT, or ALL for both) the number of
retries it allows. A failure is retried by the criterion of its own type, else by ALL's; the retries counted
against a criterion are the earlier failures of the types it covers. REJECTED is never retried (a device that
refuses a command refuses it again).

services/transitions.py applies the rule: the failure and the move to the next attempt are one write, so that
counts, abort criteria and wave gates never see a failure being retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commands_core.models.commands import Command
    from commands_core.models.executions import Execution
    from commands_core.models.jobs import RetryConfig

RETRYABLE = frozenset({"FAILED", "TIMED_OUT"})


def retried(policy: RetryConfig | None, execution: Execution, failure: str, *, attempt: int | None = None) -> bool:
    """Whether `failure` ending the execution's attempt `attempt` (its current one, or a later one AWS IoT began
    unseen) starts another under `policy`.

    Every attempt before it ended in a failure that was retried. One whose failure the history lacks (AWS IoT
    retried it before its event arrived, and the reconciler then read the next attempt) is of a type not known: it
    counts against the criterion that decides, so that the table never waits for a retry AWS IoT would not make."""
    if policy is None or failure not in RETRYABLE:
        return False
    attempt = attempt or execution.attempt
    by_type: dict[str, int] = {c.failure_type: c.number_of_retries for c in policy.criteria_list}
    covered = frozenset({failure}) if failure in by_type else RETRYABLE
    allowed = by_type.get(failure, by_type.get("ALL", 0))
    unseen = max(0, attempt - 1 - earlier_failures(execution, RETRYABLE, attempt))
    return earlier_failures(execution, covered, attempt) + unseen < allowed


def earlier_failures(execution: Execution, types: frozenset[str], attempt: int) -> int:
    """The failures of `types` in the execution's history that ended attempts before `attempt` (each was retried)."""
    return sum(1 for entry in execution.history if entry.to_status in types and entry.attempt < attempt)


def waiting(command: Command) -> bool:
    """Whether some execution of the command may wait for the service to start its next attempt: more are
    SCHEDULED than the rollout has still to start (only a kind that starts attempts itself leaves a retried
    execution SCHEDULED). A resume, and the reconciler for a lost message, then send the dispatch step."""
    return command.counts.get("SCHEDULED", 0) > max(0, command.total - command.dispatched)
