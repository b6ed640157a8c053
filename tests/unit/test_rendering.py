import pytest

from commands_core.errors import InvalidInput
from commands_core.services.rendering import tokens_of


def test_parameter_tokens_in_both_spellings_and_every_occurrence_are_found() -> None:
    tokens = tokens_of('{"a": "${delay}", "b": "${cdf:parameter:mode}", "c": "${delay}-${mode}"}')

    assert tokens.parameters == {"delay", "mode"}
    assert tokens.files == set()


def test_file_tokens_are_files_not_parameters() -> None:
    tokens = tokens_of('{"firmware": "${cdf:file:image}"}')

    assert tokens.files == {"image"}
    assert tokens.parameters == set()


def test_aws_iot_placeholders_are_left_for_aws_iot() -> None:
    tokens = tokens_of('{"url": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"}')

    assert tokens.parameters == set()
    assert tokens.files == set()


@pytest.mark.parametrize(
    "token", ["${}", "${has space}", "${cdf:file:}", "${cdf:other:x}", "${a/b}", "${" + "x" * 65 + "}"]
)
def test_a_token_that_names_nothing_valid_is_rejected_naming_the_document(token: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        tokens_of(f'{{"a": "{token}"}}')

    assert raised.value.field == "document"
    assert token in raised.value.reason
