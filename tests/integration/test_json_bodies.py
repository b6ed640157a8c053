"""Every family reads a JSON body as an I-JSON message (RFC 7493) in UTF-8: duplicate keys, numbers a double
does not hold, lone surrogates and bytes that are not UTF-8 are refused with the family's status, naming the
problem, rather than parsed into something other than what the client sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local import views
from tests.conftest import HandlerClient, Reply


@dataclass(frozen=True)
class Family:
    """A route of the family that reads a JSON body, and that body, with what a case puts into it: `text`
    (a JSON string) in the field `text_field`, `number` in `number_field`, a key written twice at the top
    (`top_key`) or in the object `nested` (`nested_key`)."""

    name: str
    method: str
    path: str
    refused: int
    build: Callable[..., str]
    top_key: str
    nested: str
    nested_key: str
    number_field: str
    text_field: str


def _template(text: str = '"plain"', number: str = "5", top_twice: bool = False, nested_twice: bool = False) -> str:
    twice = ', "inProgressTimeoutInMinutes": 6' if nested_twice else ""
    top = '"templateId": "other", ' if top_twice else ""
    return (
        f'{{{top}"templateId": "t1", "operation": "ota", "document": "{{}}", "description": {text}, '
        f'"timeoutConfig": {{"inProgressTimeoutInMinutes": {number}{twice}}}}}'
    )


def _job_template(text: str = '"plain"', number: str = "5", top_twice: bool = False, nested_twice: bool = False) -> str:
    return (
        _template(text, number, top_twice, nested_twice)
        .replace('"templateId"', '"jobTemplateId"')
        .replace('"operation": "ota", ', "")
    )


def _status(text: str = '"plain"', number: str = "", top_twice: bool = False, nested_twice: bool = False) -> str:
    # The status body has no number or object field: a case's number or nested object comes as a member of its own.
    top = '"state": "Command Failure", ' if top_twice else ""
    extra = f', "progress": {number}' if number else ""
    extra += ', "details": {"step": 1, "step": 2}' if nested_twice else ""
    return f'{{{top}"state": "Command In Progress", "reason": {text}{extra}}}'


TIMEOUT = "timeoutConfig.inProgressTimeoutInMinutes"
FAMILIES = [
    Family(
        name="v1",
        method="POST",
        path="/templates",
        refused=400,
        build=_template,
        top_key="templateId",
        nested="timeoutConfig",
        nested_key="inProgressTimeoutInMinutes",
        number_field=TIMEOUT,
        text_field="description",
    ),
    Family(
        name="jobs",
        method="POST",
        path="/job-templates",
        refused=422,
        build=_job_template,
        top_key="jobTemplateId",
        nested="timeoutConfig",
        nested_key="inProgressTimeoutInMinutes",
        number_field=TIMEOUT,
        text_field="description",
    ),
    Family(
        name="status",
        method="PUT",
        path="/commands/v0/status/inbox.d-1/",
        refused=400,
        build=_status,
        top_key="state",
        nested="details",
        nested_key="step",
        number_field="progress",
        text_field="reason",
    ),
]
BY_NAME = {family.name: family for family in FAMILIES}


@pytest.fixture(params=[pytest.param(family, id=family.name) for family in FAMILIES])
def family(
    request: pytest.FixtureRequest,
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    things: Callable[..., list[str]],
) -> Family:
    """The family; for the status API, an inbox command's execution on d-1 for its PUT to report on."""
    chosen: Family = request.param
    if chosen.name == "status":
        things("d-1")
        template("inbox", delivery="inbox", document='{"a": 1}', requiredDocumentParameters=[], requiredFiles=[])
        body = {"commandId": "inbox", "templateId": "inbox", "status": "in_progress", "targets": ["d-1"]}
        assert api.post("/commands", body).status == 201
        api.drain()
    return chosen


def _send(api: HandlerClient, family: Family, body: str | bytes, headers: dict[str, str] | None = None) -> Reply:
    return api.request(family.method, family.path, body, headers=headers)


def _message(reply: Reply) -> str:
    data = reply.json()
    return str(data["error"] if "error" in data else data["message"])


def _refused(api: HandlerClient, family: Family, body: str | bytes, **kwargs: Any) -> str:
    """Sends `body`; asserts the family's refusal (its own body shape, never a 5xx), and returns its message."""
    reply = _send(api, family, body, **kwargs)
    assert reply.status == family.refused, reply.body
    if family.name == "status":
        assert reply.json()["code"] == family.refused
    return _message(reply)


def _accepted(api: HandlerClient, family: Family, body: str | bytes, **kwargs: Any) -> Reply:
    reply = _send(api, family, body, **kwargs)
    assert reply.status in (200, 201), reply.body
    return reply


def test_a_key_written_twice_at_the_top_is_refused_naming_it(api: HandlerClient, family: Family) -> None:
    # Given a body naming a key twice (the last one would silently win)
    body = family.build(top_twice=True)

    # Then it is refused naming the key
    assert _refused(api, family, body) == f"body: has the key '{family.top_key}' twice in one object"

    # And nothing was done: the body written once is taken afterwards
    _accepted(api, family, family.build())


def test_a_key_written_twice_in_a_nested_object_is_refused_naming_it(api: HandlerClient, family: Family) -> None:
    body = family.build(nested_twice=True)

    assert _refused(api, family, body) == f"{family.nested}: has the key '{family.nested_key}' twice in one object"
    _accepted(api, family, family.build())


@pytest.mark.parametrize(
    ("number", "why"),
    [
        pytest.param("1e400", "beyond what a double holds", id="1e400"),
        pytest.param("-1e400", "beyond what a double holds", id="-1e400"),
        pytest.param("1e-400", "too small to tell from zero", id="1e-400"),
        pytest.param(str(2**53), "integers are exact only from", id="2**53"),
        pytest.param(str(-(2**53)), "integers are exact only from", id="-2**53"),
    ],
)
def test_a_number_no_double_holds_is_refused_naming_it(
    api: HandlerClient, family: Family, number: str, why: str
) -> None:
    # Given a number Python would read as infinity or zero, or an integer other parsers would round
    body = family.build(number=number)

    # Then it is refused naming its field, the number and why
    message = _refused(api, family, body)
    assert message.startswith(f"{family.number_field}: the number {number} is out of range: {why}"), message


def test_the_largest_exact_integer_is_taken_and_one_more_is_refused(api: HandlerClient) -> None:
    # Given a Jobs template whose timeout is an integer no double holds exactly
    family = BY_NAME["jobs"]
    assert _refused(api, family, family.build(number=str(2**53 + 1))).startswith(
        f"{TIMEOUT}: the number {2**53 + 1} is out of range"
    )

    # The largest exact one is read as a number (and then refused by the field's own limit, naming the field)
    message = _refused(api, family, family.build(number=str(2**53 - 1)))
    assert message.startswith(f"{TIMEOUT}: Input should be less than or equal to"), message


def test_a_string_holding_a_lone_surrogate_is_refused(api: HandlerClient, family: Family) -> None:
    # Given a string with the escape of half a surrogate pair: no Unicode character
    body = family.build(text='"half \\ud83d"')

    # Then it is refused saying so
    expected = f"{family.text_field}: a string holds the lone surrogate \\ud83d, which is not Unicode"
    assert _refused(api, family, body) == expected

    # And the whole pair, one character, is taken
    _accepted(api, family, family.build(text='"whole \\ud83d\\ude00"'))


def test_bytes_that_are_not_utf8_in_a_text_body_are_refused(api: HandlerClient, family: Family) -> None:
    # Given a body holding bytes that are not UTF-8 (API Gateway hands it over as text, with U+FFFD for them)
    body = family.build(text='"caf\u00e9"').encode().replace("\u00e9".encode(), b"\xe9")

    # Then it is refused as not UTF-8
    assert _refused(api, family, body).startswith("body: is not valid UTF-8"), body


def test_a_raw_u_fffd_is_refused_and_its_escape_is_taken(api: HandlerClient, family: Family) -> None:
    # Given a body holding U+FFFD itself: in a text body it cannot be told from bytes that were not UTF-8
    message = _refused(api, family, family.build(text='"x\ufffd"'))

    # Then it is refused as not UTF-8, telling how to send U+FFFD
    assert message.startswith("body: is not valid UTF-8"), message
    assert "\\ufffd" in message

    # And written as the escape \ufffd it is taken
    _accepted(api, family, family.build(text='"x\\ufffd"'))


BASE64 = {"Content-Type": "multipart/form-data; boundary=b"}  # a binary media type: API Gateway sends base64


# v1's and the Jobs API's JSON routes take no multipart body (a 415 before it is read); the status family reads it
# as JSON.
@pytest.mark.parametrize("family", [BY_NAME["status"]], ids=["status"], indirect=True)
def test_bytes_that_are_not_utf8_in_a_base64_body_are_refused(api: HandlerClient, family: Family) -> None:
    # Given a body that reaches the function as bytes, holding some that are not UTF-8
    body = family.build(text='"caf\u00e9"').encode().replace("\u00e9".encode(), b"\xe9")

    # Then it is refused as not UTF-8
    assert _refused(api, family, body, headers=BASE64) == "body: is not valid UTF-8"

    # And bytes that are UTF-8, U+FFFD's included (they are what the client sent), are taken
    _accepted(api, family, family.build(text='"x\ufffd"').encode(), headers=BASE64)


def test_a_template_document_keeps_numbers_no_double_holds_as_its_devices_read_them(api: HandlerClient) -> None:
    # Given a template whose own timeout is a number no double holds: refused
    family = BY_NAME["v1"]
    document = '{"size": 18446744073709551615, "scale": 1e400}'

    def with_document(number: str) -> str:
        return family.build(number=number).replace('"document": "{}"', f'"document": {json.dumps(document)}')

    assert _refused(api, family, with_document("1e400")).startswith(f"{TIMEOUT}: the number 1e400 is out of range")

    # But its document (text the service passes on as written) may hold them: a device may read a 64-bit integer
    assert _send(api, family, with_document("5")).status == 201
    assert api.get("/templates/t1").json()["document"] == document


def test_the_local_runtime_publish_route_reads_its_body_the_same_way() -> None:
    # Given the local runtime's own route that hands a message to the topic rules
    published: list[str] = []

    def to_rules(topic: str, _: dict[str, Any]) -> list[str]:
        published.append(topic)
        return []

    publish = views.routes(None, to_rules)["/_local/iot/publish"]

    # Then a body naming a key twice, or holding a number no double holds, is refused naming it
    twice = publish("POST", "", b'{"topic": "a/b", "topic": "c/d", "payload": {}}')
    assert twice == (400, {"error": "body: has the key 'topic' twice in one object"})
    status, answer = publish("POST", "", b'{"topic": "a/b", "payload": {"n": 1e400}}')
    assert (status, answer["error"]) == (400, "payload.n: the number 1e400 is out of range: beyond what a double holds")
    assert published == []

    # And the message written once is published
    assert publish("POST", "", b'{"topic": "a/b", "payload": {"n": 1}}') == (200, {"rules": []})
    assert published == ["a/b"]
