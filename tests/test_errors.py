"""error_for_status: what it reads from an error answer, what it keeps, and which class it picks.

The client's tests reach it through the pipeline with well-formed bodies; these pin the odd
answers a server or proxy may send: malformed ``errorMessages`` items, both spellings of the
metadata key, JSON that is not an object, an ``errorMessages`` that is not a list of objects, a
cut body, and the status without a class of its own.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ffn_async._redact import REDACTED
from ffn_async.errors import (
    ERROR_BODY_KEEP,
    ApiError,
    BadRequest,
    NotFound,
    RateLimited,
    ServerError,
    error_for_status,
)

_CALL: dict[str, Any] = {"method": "GET", "url": "/v1/x", "template": "/v1/x"}


def _error(status: int, content: bytes, **options: Any) -> ApiError:
    headers = options.pop("headers", {"Content-Type": "application/json"})
    return error_for_status(status, content=content, headers=headers, **_CALL, **options)


def test_the_error_response_is_read_leniently() -> None:
    body = {
        "errorCode": {"code": "Some_Code", "description": "what it means"},
        "errorMessages": [
            {"message": "plain"},
            {"message": "aimed", "target": "merchantSku"},
            {"message": ""},
            {"target": "no message"},
            "not an object",
        ],
        "errorMetaData": {"A": 1},
        "errorMetadata": {"B": 2},
    }
    exc = _error(400, orjson.dumps(body))
    assert exc.code == "Some_Code"
    assert exc.description == "what it means"
    assert exc.messages == ["plain", "merchantSku: aimed"]
    assert exc.metadata == {"A": 1}  # the first spelling wins


def test_odd_error_response_fields_are_left_out() -> None:
    body = {"errorCode": "Some_Code", "errorMessages": None, "errorMetadata": ["x"]}
    exc = _error(400, orjson.dumps(body))
    assert (exc.code, exc.description, exc.messages, exc.metadata) == (None, None, [], {})


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        (7, "is a number, not a list"),
        (2.5, "is a number, not a list"),
        (True, "is a boolean, not a list"),
        ("boom", "is a string, not a list"),
        ({"message": "boom"}, "is an object, not a list"),
        ([1, "boom", None], "holds no objects"),
    ],
)
def test_error_messages_not_in_ffns_format_are_described(messages: Any, problem: str) -> None:
    token = "secret-access-token-value"
    body = orjson.dumps({"errorCode": {"code": "Some_Code"}, "errorMessages": messages, "t": token})
    exc = _error(400, body, secrets=[token])
    assert type(exc) is BadRequest  # the status's class, not a TypeError
    assert exc.code == "Some_Code"
    assert exc.messages == []
    size = len(body) - len(token) + len(REDACTED)
    assert exc.description == (
        f"error body not in FFN's error format: errorMessages {problem} "
        f"(application/json, {size} bytes; kept in .body)"
    )
    assert str(exc) == f"400 BadRequest on GET /v1/x: [Some_Code] {exc.description}"
    assert token not in exc.body.decode()
    assert REDACTED in exc.body.decode()
    assert type(_error(503, body)) is ServerError


def test_an_error_description_that_is_not_text_is_left_out() -> None:
    exc = _error(409, orjson.dumps({"errorCode": {"code": "X", "description": 5}}))
    assert (exc.code, exc.description) == ("X", None)
    assert str(exc) == "409 Conflict on GET /v1/x: [X]"


def test_a_body_that_is_not_a_json_object_is_described() -> None:
    exc = _error(502, b"[1, 2]")
    assert exc.description == "non-JSON error body (application/json, 6 bytes)"
    exc = _error(502, b"<html>oops</html>", headers={})
    assert exc.description == "non-JSON error body (no content type, 17 bytes)"
    assert exc.body == b"<html>oops</html>"
    assert _error(502, b"").description is None


def test_a_cut_body_is_not_parsed_but_kept() -> None:
    exc = _error(400, b'{"errorCode": {"code": "X"}}', truncated=True)
    assert exc.code is None
    assert exc.description == (
        f"error body larger than {ERROR_BODY_KEEP} bytes (application/json); only its start "
        "was read and is kept in .body"
    )
    assert exc.body == b'{"errorCode": {"code": "X"}}'


def test_the_class_follows_the_status() -> None:
    limited = _error(429, b"", headers={"Retry-After": "7"})
    assert type(limited) is RateLimited
    assert limited.retry_after == 7.0
    assert type(_error(404, b"")) is NotFound
    assert type(_error(503, b"")) is ServerError
    assert type(_error(418, b"")) is ApiError
    assert type(_error(302, b"")) is ApiError


def test_the_hint_comes_from_the_caller_or_the_operation() -> None:
    template = "/v1/users/current"
    found = error_for_status(
        404, content=b"", headers={}, method="GET", url=template, template=template
    )
    assert found.hint is not None
    assert "FFN portal" in found.hint
    given = error_for_status(
        404, content=b"", headers={}, method="GET", url=template, template=template, hint="mine"
    )
    assert given.hint == "mine"
    assert _error(400, b"").hint is None


def test_credentials_are_redacted_before_anything_is_read() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-value"
    body = {"errorMessages": [{"message": f"bad token {token}"}], "errorMetadata": {"t": token}}
    headers = {"X-Echo": f"Bearer {token}", "Set-Cookie": "session=abc123; Path=/"}
    exc = _error(401, orjson.dumps(body), headers=headers, secrets=[token, None])
    assert token not in repr((str(exc), exc.body, exc.messages, exc.metadata, exc.headers))
    assert REDACTED in exc.messages[0]
    assert exc.headers["Set-Cookie"] == f"session={REDACTED}; Path=/"
