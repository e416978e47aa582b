"""Error answers in the FFN API's ``ErrorResponse`` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

__all__ = [
    "ApiFailure",
    "error_response",
    "invalid",
    "json_response",
    "no_content",
    "read_json",
    "require",
]


class ApiFailure(Exception):
    """Raised by a fake handler to answer with an ``ErrorResponse`` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.metadata = dict(metadata or {})

    def response(self) -> web.Response:
        """The failure as an HTTP answer."""
        return error_response(self.status, self.code, self.message, self.metadata)


def error_response(
    status: int, code: str, message: str, metadata: Mapping[str, Any] | None = None
) -> web.Response:
    """An FFN ``ErrorResponse``: ``errorCode``, ``errorMessages`` and ``errorMetaData``."""
    body = {
        "errorCode": {"code": code, "description": message},
        "errorMessages": [{"message": message}],
        "errorMetaData": dict(metadata or {}),
    }
    return json_response(body, status)


def json_response(data: Any, status: int = 200) -> web.Response:
    """``data`` encoded with orjson (fast enough for thousands of requests per second)."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def invalid(message: str, field: str) -> ApiFailure:
    """A 400 ``Shared_ModelValidation`` naming the offending field."""
    return ApiFailure(400, "Shared_ModelValidation", message, {"Field": field})


def require(body: Mapping[str, Any], *fields: str) -> None:
    """400 for the first of ``fields`` missing or empty in ``body``."""
    for field in fields:
        if body.get(field) in (None, "", []):
            raise invalid(f"{field} is required", field)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; 400 if it is not one."""
    try:
        body = await request.json()
    except ValueError:
        raise invalid("the body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object", "body")
    return body


def no_content() -> web.Response:
    """204, as FFN answers a successful update, delete or action."""
    return web.Response(status=204)
