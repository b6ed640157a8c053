"""Parameter values cannot change a rendered document's structure, for any value: the document has the
template's shape and keys, each value sits where its token was, exactly as written, and nothing in a value is
taken for a token, neither by rendering nor by AWS IoT (which resolves `${aws:...}` placeholders)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands_core.errors import InvalidInput
from commands_core.services.rendering import iot_presigned_placeholder, render

PARAMETERS = ("p", "q")
TOKENS = ("${p}", "${cdf:parameter:q}", "${aws:iot:thing-name}")
_TOKEN = re.compile(r"\$\{(?:cdf:parameter:)?(p|q)\}")

# Template text around the tokens: anything but the characters a token is made of.
literal = st.text(st.characters(exclude_characters="${}", exclude_categories=["Cs"]), max_size=8)
template_string = st.lists(st.one_of(literal, st.sampled_from(TOKENS)), max_size=4).map("".join)
template_tree = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), template_string),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(literal, children, max_size=4)),
    max_leaves=12,
)
# Values: any text, and text made of what means something to JSON, to rendering and to AWS IoT.
TRICKS = ('"', "\\", "{", "}", "[", "]", ",", ":", "\n", "\r", "\x00", "\u2028", "${p}", "${cdf:parameter:q}",
          "${cdf:file:f}", "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/commands/other/published/f}",
          '", "injected": "', '"}, {"injected": ["')  # fmt: skip
value = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.lists(st.one_of(st.sampled_from(TRICKS), literal), max_size=6).map("".join),
)


def _filled(tree: Any, values: dict[str, str]) -> Any:
    """What rendering must give: the template's tree, each token in its strings replaced by its value as written
    (one pass, so a value is never read for tokens)."""
    if isinstance(tree, str):
        return _TOKEN.sub(lambda match: values[match.group(1)], tree)
    if isinstance(tree, list):
        return [_filled(item, values) for item in tree]
    if isinstance(tree, dict):
        return {key: _filled(item, values) for key, item in tree.items()}
    return tree


@settings(max_examples=300, deadline=None)
@given(tree=template_tree, p=value, q=value)
def test_any_values_leave_the_template_structure_and_are_inserted_as_written(tree: Any, p: str, q: str) -> None:
    # Given a template document of any shape with parameter tokens in its strings
    document = json.dumps(tree)

    # When it is rendered with any values
    rendered = render(document, {"p": p, "q": q}, {})

    # Then it parses to the template's tree with the values in place, exactly as written
    assert json.loads(rendered) == _filled(tree, {"p": p, "q": q})
    # And the only placeholders AWS IoT can find in its text are the template's own
    assert rendered.count("${") == document.count("${aws:")


@settings(max_examples=200, deadline=None)
@given(p=value, q=st.one_of(value, st.just("fixed")))
def test_values_in_keys_fill_them_in_or_are_refused_when_a_key_would_repeat(p: str, q: str) -> None:
    # Given a template with tokens in keys next to a fixed key
    document = '{"${p}": 1, "${cdf:parameter:q}": 2, "fixed": 3}'

    # When values would make two keys the same, the document is refused naming the parameters
    if len({p, q, "fixed"}) < 3:
        with pytest.raises(InvalidInput) as raised:
            render(document, {"p": p, "q": q}, {})
        assert raised.value.field == "documentParameters"
        assert "twice" in raised.value.reason
        return

    # Otherwise each key is filled in and no key is replaced, added or lost
    assert json.loads(render(document, {"p": p, "q": q}, {})) == {p: 1, q: 2, "fixed": 3}


@settings(max_examples=50, deadline=None)
@given(value=st.text(max_size=8192), repeats=st.integers(min_value=1, max_value=4000))
def test_a_rendered_document_never_grows_past_aws_iots_limit(value: str, repeats: int) -> None:
    # Given a short template repeating one token, and a value of up to 8 KB
    document = '{"a": "' + "${p}" * repeats + '"}'

    # When it is rendered, it is within 32 KB or refused (before it is built: 8 KB of NULs 4,000 times would
    # otherwise be 196 MB)
    # (the value JSON-escaped, its quotes left out, each $ written \u0024)
    escaped = len(json.dumps(value, ensure_ascii=False).encode()) - 2 + 5 * value.count("$")
    expected = len(document.encode()) + repeats * (escaped - len("${p}"))
    if expected > 32 * 1024:
        with pytest.raises(InvalidInput, match="documentParameters"):
            render(document, {"p": value}, {})
    else:
        assert len(render(document, {"p": value}, {}).encode()) <= 32 * 1024


def test_a_value_cannot_have_aws_iot_presign_another_object() -> None:
    # Given a value holding AWS IoT's presigned-URL placeholder for another command's file
    placeholder = iot_presigned_placeholder("bucket", "commands/other/published/secret")

    # When it is rendered into a job document
    rendered = render('{"note": "${p}"}', {"p": placeholder}, {})

    # Then the device reads the text as written, but AWS IoT finds no placeholder to resolve in it
    assert json.loads(rendered) == {"note": placeholder}
    assert "${aws:" not in rendered


def test_the_room_reserved_for_presigned_urls_counts_against_the_limit() -> None:
    document = '{"a": "${p}"}'
    value = "x" * (32 * 1024 - len(document) + len("${p}"))

    assert len(render(document, {"p": value}, {}).encode()) == 32 * 1024
    with pytest.raises(InvalidInput):
        render(document, {"p": value}, {}, reserved=1)
