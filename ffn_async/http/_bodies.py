"""Reading an answer's body within a size limit: one place for the rule, used by API calls
(:mod:`ffn_async.client`) and token-endpoint calls (:mod:`ffn_async.auth.oauth`) alike.

A body over its limit raises :class:`~ffn_async.errors.ResponseTooLarge` as soon as it is
known to be over: at once from an announced ``Content-Length``, else after the first chunk
that crosses it; the connection is dropped instead of read to its end.
"""

from __future__ import annotations

from collections.abc import Awaitable

import aiohttp
from yarl import URL

from ..errors import ResponseTooLarge
from ._requester import display

__all__ = ["announced_size", "read_limited", "too_large"]


def announced_size(resp: aiohttp.ClientResponse) -> int | None:
    """``Content-Length`` if it is the size of the body we will read (not compressed)."""
    headers = resp.headers
    encoding = headers.get("Content-Encoding")
    if encoding is not None and encoding.lower() != "identity":
        return None  # aiohttp decompresses: the body may be far larger than announced
    length = headers.get("Content-Length")
    return None if length is None else int(length)


def too_large(
    resp: aiohttp.ClientResponse, limit: tuple[int, str], method: str, url: URL, size: int | None
) -> ResponseTooLarge:
    resp.close()  # drop the connection instead of reading (or draining) the rest
    # A limit named by a module constant (``ffn_async.auth.oauth.MAX_TOKEN_ANSWER_SIZE``) is no
    # client argument: the answer itself is wrong, not the setting.
    advice = (
        f"no answer of this kind is that large ({limit[1]}): check the URL and any proxy"
        if "." in limit[1]
        else None
    )
    return ResponseTooLarge(
        method=method, url=display(url), limit=limit[0], setting=limit[1], size=size, advice=advice
    )


def read_limited(
    resp: aiohttp.ClientResponse, limit: tuple[int, str], method: str, url: URL
) -> Awaitable[bytes]:
    """The whole body, or :class:`ResponseTooLarge` as soon as it exceeds ``limit``.

    Not a coroutine itself: with an announced size it hands back ``resp.read()`` (the parser
    reads exactly that many bytes), so the common case adds no frame to the awaiting chain.
    """
    size = announced_size(resp)
    if size is not None:
        if size > limit[0]:
            raise too_large(resp, limit, method, url, size)
        return resp.read()
    return _read_chunks(resp, limit, method, url)


async def _read_chunks(
    resp: aiohttp.ClientResponse, limit: tuple[int, str], method: str, url: URL
) -> bytes:
    """A body of unknown size, chunk by chunk, stopped as soon as it exceeds ``limit``."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > limit[0]:
            raise too_large(resp, limit, method, url, None)
        chunks.append(chunk)
    return b"".join(chunks)
