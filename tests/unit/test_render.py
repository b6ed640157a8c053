import json

import pytest

from commands_core.services.rendering import iot_presigned_placeholder, render

TRICKY_VALUES = [
    pytest.param('say "hi"', id="double-quotes"),
    pytest.param("C:\\path\\to\\file \\n not a newline", id="backslashes"),
    pytest.param("{braces} and {{more}}", id="braces"),
    pytest.param("${other} and ${cdf:parameter:other}", id="token-text"),
    pytest.param("line one\nline two\r\n\ttabbed", id="newlines-tabs"),
    pytest.param("nul\x00 bell\x07 escape\x1b del\x7f", id="control-characters"),
    pytest.param("ü 你好 🚀", id="unicode"),
    pytest.param("\u2028\u2029 separators", id="line-separators"),
    pytest.param("", id="empty"),
    pytest.param('", "injected": "x', id="closing-quote"),
]


def test_every_occurrence_of_a_parameter_is_replaced_in_both_spellings() -> None:
    # Given a document that names two parameters several times, in both spellings
    document = '{"a": "${delay}", "b": "${cdf:parameter:delay}s", "c": ["${mode}-${delay}", "${cdf:parameter:mode}"]}'

    # When it is rendered
    rendered = render(document, {"delay": "30", "mode": "fast"}, {})

    # Then no token is left and every value is in place
    assert json.loads(rendered) == {"a": "30", "b": "30s", "c": ["fast-30", "fast"]}


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_a_parameter_value_survives_rendering_exactly(value: str) -> None:
    # Given a document with a parameter alone in a string and inside other text
    document = '{"alone": "${p}", "embedded": "before ${cdf:parameter:p} after"}'

    # When it is rendered with a value holding characters that mean something in JSON
    rendered = render(document, {"p": value}, {})

    # Then the result is JSON and decodes to the value, unchanged
    assert json.loads(rendered) == {"alone": value, "embedded": f"before {value} after"}


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_a_parameter_value_survives_in_an_object_key(value: str) -> None:
    rendered = render('{"${p}": 1}', {"p": value}, {})

    assert json.loads(rendered) == {value: 1}


@pytest.mark.parametrize(
    "value",
    [
        '", "injected": "x',
        '"}, "injected": {"a": "',
        '\\", "injected": "x',
        '\\\\", "injected": "x',
        '"]}',
    ],
)
def test_a_parameter_value_cannot_add_structure_to_the_document(value: str) -> None:
    # Given a document with known keys
    document = '{"action": "${p}", "fixed": "kept"}'

    # When a value tries to close the string and add a key
    parsed = json.loads(render(document, {"p": value}, {}))

    # Then the document has only its own keys and the value is plain text
    assert list(parsed) == ["action", "fixed"]
    assert parsed == {"action": value, "fixed": "kept"}


def test_a_value_that_looks_like_a_token_is_not_substituted_again() -> None:
    # Given values that spell other parameters' and files' tokens
    document = '{"a": "${first}", "b": "${second}", "c": "${cdf:file:image}"}'
    parameters = {"first": "${second}", "second": "${cdf:file:image}"}

    # When the document is rendered
    parsed = json.loads(render(document, parameters, {"image": "https://example.com/i"}))

    # Then each value is inserted as written
    assert parsed == {"a": "${second}", "b": "${cdf:file:image}", "c": "https://example.com/i"}


def test_aws_iot_tokens_are_kept_for_aws_iot() -> None:
    placeholder = "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/key.bin}"
    document = f'{{"url": "{placeholder}", "thing": "${{aws:iot:thing-name}}", "p": "${{p}}"}}'

    parsed = json.loads(render(document, {"p": "v"}, {}))

    assert parsed == {"url": placeholder, "thing": "${aws:iot:thing-name}", "p": "v"}


def test_file_tokens_become_the_given_urls() -> None:
    # Given a document with two file tokens, one used twice
    document = '{"firmware": "${cdf:file:image}", "config": "${cdf:file:config}", "again": "${cdf:file:image}"}'
    urls = {
        "image": iot_presigned_placeholder("bucket", "commands/c1/files/image"),
        "config": "https://example.com/config?a=1&b=2",
    }

    # When it is rendered
    parsed = json.loads(render(document, {}, urls))

    # Then each token is replaced by its URL
    assert parsed == {
        "firmware": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/commands/c1/files/image}",
        "config": "https://example.com/config?a=1&b=2",
        "again": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/commands/c1/files/image}",
    }


def test_a_file_and_a_parameter_with_the_same_name_are_told_apart() -> None:
    parsed = json.loads(render('{"p": "${x}", "f": "${cdf:file:x}"}', {"x": "param"}, {"x": "https://file"}))

    assert parsed == {"p": "param", "f": "https://file"}


def test_the_rest_of_the_document_is_preserved_byte_for_byte() -> None:
    # Given a document with unusual spacing, escapes, number spellings and key order
    document = (
        '{\n\t"zeta" :  "${p}" ,\r\n  "alpha":[1.50E+3,  -0.0 ,true,null],'
        '  "escaped": "caf\\u00e9 \\"q\\" \\/ ${aws:iot:thing-name}",\n  "nested" : { }\n}\n'
    )

    # When it is rendered
    rendered = render(document, {"p": 'a "b"'}, {})

    # Then only the token changed
    assert rendered == (
        '{\n\t"zeta" :  "a \\"b\\"" ,\r\n  "alpha":[1.50E+3,  -0.0 ,true,null],'
        '  "escaped": "caf\\u00e9 \\"q\\" \\/ ${aws:iot:thing-name}",\n  "nested" : { }\n}\n'
    )


def test_a_document_without_tokens_is_returned_unchanged() -> None:
    document = '{ "a" : "$notatoken {x} $ {y}" }'

    assert render(document, {"x": "X", "y": "Y"}, {}) == document
