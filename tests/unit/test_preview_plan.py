"""What a preview is made of: every problem of a body collected, and the rollout's plan (waves, time to start)."""

from __future__ import annotations

import pytest

from commands_core.errors import InvalidInput, Problems
from commands_core.models import rollout
from commands_core.models.commands import NewCommand
from commands_core.models.jobs import RolloutConfig, Waves
from commands_core.validation import parse_all


def test_raising_problems_stop_at_the_first_and_collecting_ones_keep_each_once() -> None:
    raising, collecting = Problems(), Problems(collect=True)
    first, second = InvalidInput("targets", "none"), InvalidInput("documentParameters.x", "unknown")

    with pytest.raises(InvalidInput) as raised, raising.check():
        raise first
    for problem in (first, second, InvalidInput("targets", "none")):
        with collecting.check():
            raise problem

    assert raised.value is first
    assert collecting.found == [first, second]
    assert collecting.about("documentParameters")
    assert not collecting.about("templateId")


def test_every_field_error_of_a_body_is_reported_and_the_rest_still_validates() -> None:
    problems = Problems(collect=True)
    body = {
        "templateId": "ota",
        "targets": ["dev-1", "a/b"],
        "waves": {"percentages": [50, 20, 100]},
        "rolloutMaximumPerMinute": 10,
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 20},  # two maxima: checked once the fields are valid
        "colour": "red",
    }

    parsed = parse_all(NewCommand, body, problems)

    assert [(problem.field, problem.reason) for problem in problems.found] == [
        ("waves.percentages", "must grow from one wave to the next: each is the share of the targets reached by then"),
        ("targets.1", "must be a thing name, a thing ARN or a thing-group ARN"),
        ("colour", "is not a field of this resource"),
        ("rolloutMaximumPerMinute", "is jobExecutionsRolloutConfig.maximumPerMinute: give one, or both the same"),
    ]
    assert parsed is not None
    assert (parsed.template_id, parsed.targets, parsed.waves) == ("ota", [], None)


def test_a_body_that_cannot_validate_without_a_required_field_is_none() -> None:
    problems = Problems(collect=True)

    assert parse_all(NewCommand, {"targets": "dev-1"}, problems) is None
    assert [problem.field for problem in problems.found] == ["templateId", "targets"]


def test_starting_at_a_fixed_rate_takes_the_targets_over_the_rate_plus_each_gates_wait() -> None:
    waves = Waves(percentages=[10, 50, 100], wait_seconds=30)

    assert rollout.start_seconds(RolloutConfig(maximum_per_minute=6), waves, 20) == pytest.approx(200 + 2 * 30)
    assert rollout.start_seconds(None, waves, 20) == 60  # as fast as the engine goes: the waits alone
    assert rollout.start_seconds(RolloutConfig(maximum_per_minute=6), None, 0) == 0


def test_starting_at_an_exponential_rate_follows_each_increase_up_to_the_maximum() -> None:
    # 10 a minute for the first 20, 15 for the next 20, 22 for the next, then 33, capped at 30
    config = RolloutConfig.model_validate(
        {
            "maximumPerMinute": 30,
            "exponentialRate": {
                "baseRatePerMinute": 10,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 20},
            },
        }
    )

    expected = 60 * (20 / 10 + 20 / 15 + 20 / 22 + 40 / 30)
    assert rollout.start_seconds(config, None, 100) == pytest.approx(expected)
    assert rollout.rate_now(config, 0, 0) == 10
