"""A request body is read as UTF-8 holding an I-JSON message (RFC 7493): what other parsers would read
differently, or not at all, is refused with a reason naming it and the field where it is."""

from __future__ import annotations

import pytest

from commands_core.errors import InvalidInput
from commands_core.validation import json_body


def refused(raw: bytes, *, as_text: bool = False) -> str:
    """The refusal's message: `<field>: <reason>`."""
    try:
        json_body(raw, as_text=as_text)
    except InvalidInput as error:
        return error.message
    raise AssertionError(f"{raw[:40]!r} was taken")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"a": 1, "a": 1}', "body: has the key 'a' twice in one object", id="top-level"),
        pytest.param(
            b'{"a": {"b": [{"c": 1}, {"c": 1, "c": 2}]}}', "a.b.1: has the key 'c' twice in one object", id="nested"
        ),
        pytest.param(b'[{"k": 1, "\\u006b": 2}]', "0: has the key 'k' twice in one object", id="once-escaped"),
    ],
)
def test_a_key_written_twice_in_one_object_is_refused_naming_it_and_where(body: bytes, message: str) -> None:
    assert refused(body) == message


def test_a_key_may_repeat_across_objects_but_not_within_one() -> None:
    assert refused(b'{"a": {"a": 1, "a": 2}}') == "a: has the key 'a' twice in one object"
    assert json_body(b'[{"a": 1}, {"a": 2, "b": {"a": 3}}]') == [{"a": 1}, {"a": 2, "b": {"a": 3}}]


@pytest.mark.parametrize(
    ("number", "why", "nearest", "value"),
    [
        ("1e400", "beyond what a double holds", "1.7976931348623157e308", 1.7976931348623157e308),
        ("-1e400", "beyond what a double holds", "-1.7976931348623157e308", -1.7976931348623157e308),
        ("1.8e308", "beyond what a double holds", "1e20", 1e20),  # an exponent says double: all read it alike
        ("1e-400", "too small to tell from zero", "5e-324", 5e-324),  # the smallest double above zero
        ("2e-324", "too small to tell from zero", "3e-324", 5e-324),  # rounded, but not to zero
        ("-2.5E-400", "too small to tell from zero", "-0.0E+999", -0.0),  # written as zero: no underflow
        (str(2**53), "integers are exact only from", str(2**53 - 1), 2**53 - 1),
        (str(-(2**53)), "integers are exact only from", str(-(2**53 - 1)), -(2**53 - 1)),
    ],
)
def test_a_number_no_double_holds_is_refused_naming_it_and_its_nearest_is_taken(
    number: str, why: str, nearest: str, value: float
) -> None:
    assert refused(f'{{"n": [0, {number}]}}'.encode()).startswith(f"n.1: the number {number} is out of range: {why}")
    assert json_body(f'{{"n": [0, {nearest}]}}'.encode()) == {"n": [0, value]}


def test_an_integer_of_thousands_of_digits_is_refused_with_a_short_reason() -> None:
    message = refused(b"[" + b"9" * 200_000 + b"]")

    assert message.startswith("0: the number 9999")
    assert message.endswith("is out of range: integers are exact only from -9007199254740991 to 9007199254740991")
    assert len(message) < 200


def test_the_first_problem_in_the_text_is_the_one_named() -> None:
    assert refused(b'{"a": [1, {"b": 1e400}], "c": {"d": 1, "d": 2}, "e": 1e400}') == (
        "a.1.b: the number 1e400 is out of range: beyond what a double holds"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'"\\ud800"', "body: a string holds the lone surrogate \\ud800", id="high"),
        pytest.param(b'["ok", "a\\udfffb"]', "1: a string holds the lone surrogate \\udfff", id="low-in-an-array"),
        pytest.param(b'{"x": {"\\ude00\\ud83d": 1}}', "x: a key holds the lone surrogate \\ude00", id="in-a-key"),
    ],
)
def test_a_string_holding_a_lone_surrogate_is_refused_but_a_pair_is_taken(body: bytes, message: str) -> None:
    assert refused(body) == f"{message}, which is not Unicode"
    assert json_body(b'{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001f600"}


def test_a_body_that_is_not_utf8_or_not_json_is_refused_for_that() -> None:
    assert refused(b'{"name": "caf\xe9"}') == "body: is not valid UTF-8"
    assert refused(b'{"surrogate": "\xed\xa0\x80"}') == "body: is not valid UTF-8"  # a surrogate encoded as UTF-8
    assert refused(b"{") == "body: is not valid JSON"
    assert refused(b'{"n": NaN}') == "body: NaN is not JSON"
    assert refused(b"[" * 100_000 + b"]" * 100_000) == "body: is nested too deeply"


def test_a_raw_u_fffd_in_a_text_body_is_refused_telling_how_to_write_it() -> None:
    # Given a body that came as text: U+FFFD there is what API Gateway put for bytes that were not UTF-8
    message = refused('{"name": "caf\ufffd"}'.encode(), as_text=True)

    # Then it is refused as not UTF-8, telling a client that means U+FFFD to write its escape
    assert message.startswith("body: is not valid UTF-8")
    assert "\\ufffd" in message

    # And the escape, or a U+FFFD sent as bytes (nothing replaced them), is taken
    assert json_body(b'{"name": "caf\\ufffd"}', as_text=True) == {"name": "caf\ufffd"}
    assert json_body('{"name": "caf\ufffd"}'.encode()) == {"name": "caf\ufffd"}
