import base64
import json

import pytest

from commands_core.errors import InvalidInput
from commands_core.pagination import decode_token, encode_token

FIELDS = frozenset({"templateId"})


def test_a_token_round_trips_and_is_url_safe() -> None:
    position = {"commandId": "cmd_1-x", "createdAt": "2026-11-22T00:15:46.903744Z"}

    token = encode_token(position)

    assert decode_token(token, frozenset(position)) == position
    assert token.replace("-", "").replace("_", "").isalnum()


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _value(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Whatever a table may hold as a key: an earlier version stored thing names from events unchecked.
@pytest.mark.parametrize("value", ["a/b", "sim 299", "€", "ü" * 507, "\x01" * 1014, '"\\', "x" * 1014])
def test_any_value_a_key_can_hold_round_trips_within_the_length_a_token_may_have(value: str) -> None:
    token = encode_token({"thingName": value})

    assert decode_token(token, frozenset({"thingName"})) == {"thingName": value}
    assert len(token) <= 4096  # nextToken's limit


def test_a_token_issued_before_values_were_encoded_is_still_taken() -> None:
    position = {"commandId": "cmd_1-x", "createdAt": "2026-11-22T00:15:46.903744Z"}

    token = _token({"v": "1", "after": position})

    assert decode_token(token, frozenset(position)) == position


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode(),
        _token([1, 2]),
        _token({"v": "0", "after": {"templateId": "x"}}),
        _token({"v": "1", "after": {"templateId": 7}}),
        _token({"v": "1", "after": {"templateId": "x", "kind": "template"}}),
        _token({"v": "1", "after": {"other": "x"}}),
        _token({"v": "1", "after": {"templateId": ""}}),
        _token({"v": "1", "after": {"templateId": "€" * 1000}}),  # longer than any key
        _token({"v": "1", "after": {"templateId": "\ud800"}}),  # no Unicode text
        _token({"v": "2", "after": {"templateId": "x"}}),  # a v2 value is encoded
        _token({"v": "2", "after": {"templateId": _value("")}}),
        _token({"v": "2", "after": {"templateId": base64.urlsafe_b64encode(b"\xff").decode()}}),
        _token({"v": "2", "after": {"templateId": _value("x" * 1015)}}),
        _token({"v": "2", "after": {"templateId": None}}),
    ],
)
def test_a_token_this_api_did_not_issue_is_a_400_naming_next_token(token: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_token(token, FIELDS)

    assert raised.value.field == "nextToken"
