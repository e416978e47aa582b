"""``aioresponses`` for every aiohttp this project supports, 3.14 included.

aioresponses 0.7.9 builds its fake ``ClientResponse`` without the ``stream_writer`` argument that
aiohttp 3.14 made required (pnuckowski/aioresponses#289, fixes pending in #288/#290). Its own
``response_class`` hook lets us supply it, so the tests run on the aiohttp users install instead of
pinning an old one. Import ``aioresponses`` from here, never from the package; drop this module once
a fixed aioresponses is released.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp.payload import Payload
from aioresponses import CallbackResult as _CallbackResult
from aioresponses import aioresponses as _aioresponses

__all__ = ["CallbackResult", "aioresponses"]

_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters


class _SentRequest:
    """Stands in for the request writer of a response whose request is already sent."""

    output_size = 0


class _Response(aiohttp.ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _SentRequest())
        super().__init__(method, url, **kwargs)


class _Buffer:
    """A request writer that keeps what a payload writes."""

    def __init__(self) -> None:
        self.data = b""

    async def write(self, chunk: bytes) -> None:
        self.data += bytes(chunk)


class aioresponses(_aioresponses):  # noqa: N801 - a drop-in for the package's own name
    def add(self, *args: Any, response_class: Any = None, **kwargs: Any) -> None:
        super().add(*args, response_class=response_class or _Response, **kwargs)

    async def _request_mock(
        self, orig_self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """A payload body is written as aiohttp writes it, so what runs before its first byte
        leaves (the token request's fence) runs here too; a form is recorded as its dict."""
        data = kwargs.get("data")
        if isinstance(data, Payload):
            buffer = _Buffer()
            try:
                await data.write_with_length(buffer, None)  # type: ignore[arg-type]
            except Exception as exc:  # what aiohttp does with a body that fails to write
                raise aiohttp.ClientConnectionError(f"Failed to send bytes: {exc!r}") from exc
            if data.content_type == "application/x-www-form-urlencoded":
                kwargs["data"] = dict(parse_qsl(buffer.data.decode()))
            else:
                kwargs["data"] = buffer.data
        return await super()._request_mock(orig_self, method, url, *args, **kwargs)


class CallbackResult(_CallbackResult):
    def __init__(self, *args: Any, response_class: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, response_class=response_class or _Response, **kwargs)
