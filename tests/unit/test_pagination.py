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
        _token({"v": "1", "after": {"templateId": "€" * 1000}}),
        _token({"v": "1", "after": {"templateId": "a/b"}}),
    ],
)
def test_a_token_this_api_did_not_issue_is_a_400_naming_next_token(token: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_token(token, FIELDS)

    assert raised.value.field == "nextToken"
