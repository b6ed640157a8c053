from itertools import product

import pytest

from commands_core.models.events import COMMAND_EXECUTION_STATUSES, JOB_EXECUTION_STATUSES
from commands_core.services.delivery import command, job
from commands_core.services.transitions import allowed

PENDING = ["SCHEDULED", "QUEUED", "SENT", "ACKNOWLEDGED", "IN_PROGRESS"]
TERMINAL = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"]
DEVICE_FINAL = ["SUCCEEDED", "FAILED", "REJECTED"]


@pytest.mark.parametrize(
    ("current", "new", "cloud_timeout", "expected"),
    [
        pytest.param("SCHEDULED", "QUEUED", False, True, id="scheduled-to-queued"),
        pytest.param("QUEUED", "SENT", False, True, id="queued-to-sent"),
        pytest.param("SENT", "ACKNOWLEDGED", False, True, id="sent-to-acknowledged"),
        pytest.param("ACKNOWLEDGED", "IN_PROGRESS", False, True, id="acknowledged-to-in-progress"),
        pytest.param("SCHEDULED", "IN_PROGRESS", False, True, id="skipping-steps-forward"),
        pytest.param("QUEUED", "ACKNOWLEDGED", False, True, id="queued-to-acknowledged"),
        pytest.param("IN_PROGRESS", "SUCCEEDED", False, True, id="in-progress-to-succeeded"),
        pytest.param("IN_PROGRESS", "FAILED", False, True, id="in-progress-to-failed"),
        pytest.param("SENT", "REJECTED", False, True, id="sent-to-rejected"),
        pytest.param("IN_PROGRESS", "TIMED_OUT", False, True, id="in-progress-to-timed-out"),
        pytest.param("SCHEDULED", "CANCELED", False, True, id="scheduled-to-canceled"),
        pytest.param("QUEUED", "REMOVED", False, True, id="queued-to-removed"),
        pytest.param("SCHEDULED", "SUCCEEDED", False, True, id="scheduled-straight-to-succeeded"),
        pytest.param("IN_PROGRESS", "IN_PROGRESS", False, True, id="newer-progress"),
        pytest.param("QUEUED", "SCHEDULED", False, False, id="queued-back-to-scheduled"),
        pytest.param("SENT", "QUEUED", False, False, id="sent-back-to-queued"),
        pytest.param("ACKNOWLEDGED", "SENT", False, False, id="acknowledged-back-to-sent"),
        pytest.param("IN_PROGRESS", "ACKNOWLEDGED", False, False, id="in-progress-back-to-acknowledged"),
        pytest.param("IN_PROGRESS", "SCHEDULED", False, False, id="in-progress-back-to-scheduled"),
        pytest.param("SCHEDULED", "SCHEDULED", False, False, id="scheduled-repeated"),
        pytest.param("QUEUED", "QUEUED", False, False, id="queued-repeated"),
        pytest.param("SENT", "SENT", False, False, id="sent-repeated"),
        pytest.param("ACKNOWLEDGED", "ACKNOWLEDGED", False, False, id="acknowledged-repeated"),
        pytest.param("SENT", "QUEUED", True, False, id="cloud-timeout-flag-does-not-allow-going-back"),
        pytest.param("TIMED_OUT", "SUCCEEDED", True, True, id="cloud-timeout-to-succeeded"),
        pytest.param("TIMED_OUT", "FAILED", True, True, id="cloud-timeout-to-failed"),
        pytest.param("TIMED_OUT", "REJECTED", True, True, id="cloud-timeout-to-rejected"),
        pytest.param("TIMED_OUT", "SUCCEEDED", False, False, id="device-timeout-to-succeeded"),
        pytest.param("TIMED_OUT", "FAILED", False, False, id="device-timeout-to-failed"),
        pytest.param("TIMED_OUT", "REJECTED", False, False, id="device-timeout-to-rejected"),
        pytest.param("TIMED_OUT", "CANCELED", True, False, id="cloud-timeout-to-canceled"),
        pytest.param("TIMED_OUT", "REMOVED", True, False, id="cloud-timeout-to-removed"),
        pytest.param("TIMED_OUT", "TIMED_OUT", True, False, id="cloud-timeout-repeated"),
        pytest.param("TIMED_OUT", "IN_PROGRESS", True, False, id="cloud-timeout-to-in-progress"),
    ],
)
def test_status_changes_follow_the_execution_lifecycle(
    current: str, new: str, cloud_timeout: bool, expected: bool
) -> None:
    assert allowed(current, new, cloud_timeout=cloud_timeout) is expected


@pytest.mark.parametrize(("current", "new"), list(product(TERMINAL, PENDING + TERMINAL)))
def test_a_terminal_status_is_never_overwritten(current: str, new: str) -> None:
    assert allowed(current, new) is False


@pytest.mark.parametrize(
    ("current", "new"),
    [(current, new) for current, new in product(TERMINAL, PENDING + TERMINAL) if current != "TIMED_OUT"],
)
def test_other_terminal_statuses_stay_final_even_with_cloud_timeout(current: str, new: str) -> None:
    assert allowed(current, new, cloud_timeout=True) is False


@pytest.mark.parametrize(("current", "new"), [(c, n) for c in PENDING for n in TERMINAL])
def test_every_pending_status_may_end(current: str, new: str) -> None:
    assert allowed(current, new) is True


@pytest.mark.parametrize(
    ("current", "new"),
    [(c, n) for i, c in enumerate(PENDING) for n in PENDING[:i]],
)
def test_no_pending_status_moves_back(current: str, new: str) -> None:
    assert allowed(current, new) is False


def test_every_status_an_aws_iot_event_may_carry_has_its_execution_status() -> None:
    # The event models accept these statuses; the ingestion maps each to an execution status without looking twice.
    assert set(job.STATUSES) == JOB_EXECUTION_STATUSES
    assert set(command.STATUSES) == COMMAND_EXECUTION_STATUSES
