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

import aiohttp
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


class aioresponses(_aioresponses):  # noqa: N801 - a drop-in for the package's own name
    def add(self, *args: Any, response_class: Any = None, **kwargs: Any) -> None:
        super().add(*args, response_class=response_class or _Response, **kwargs)


class CallbackResult(_CallbackResult):
    def __init__(self, *args: Any, response_class: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, response_class=response_class or _Response, **kwargs)
