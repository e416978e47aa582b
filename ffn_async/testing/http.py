"""Error answers in the FFN API's ``ErrorResponse`` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

__all__ = ["ApiFailure", "error_response", "json_response"]


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
