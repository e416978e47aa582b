"""What namespaces, pages, feeds and safe creates need of a client: the :class:`Requester`.

They are written against this small protocol instead of :class:`~ffn_async.FFNClient`, so
none of them imports the client and the client imports them freely (no import cycle).
:class:`Response`, the answer every request returns, lives here for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from .._redact import Secrets, credentials_in
from ..environment import Environment
from ..errors import ERROR_BODY_KEEP, DecodeError
from ..retry import RetryPolicy

__all__ = ["Requester", "Response", "as_is", "display", "get", "redacted"]

T = TypeVar("T")


def display(url: URL) -> str:
    """The URL as it may appear in logs and errors: path only, no query values."""
    return url.path


@attrs.define(slots=True)
class Response:
    """A completed HTTP exchange: status, headers and the undecoded body.

    ``content`` is empty when the body was streamed to a file; ``truncated`` is true when only
    the first :data:`~ffn_async.errors.ERROR_BODY_KEEP` bytes of an error body were read.
    ``sent``: the request's headers (its own, the session's), so that whatever credential
    they carried is redacted from an error raised while decoding the body, wherever that
    happens (:meth:`json` on an answer ``request_raw`` returned, say).
    """

    status: int
    headers: CIMultiDictProxy[str]
    content: bytes
    url: URL
    method: str
    truncated: bool = False
    sent: tuple[Mapping[str, str], ...] = attrs.field(default=(), repr=False, eq=False)

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when empty)."""
        if not self.content:
            return None
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            ctype = self.headers.get("Content-Type", "no content type")
            raise redacted(
                DecodeError(
                    f"{self.method} {display(self.url)} answered {self.status} with a body that "
                    f"is not JSON ({ctype}, {len(self.content)} bytes)",
                    body=self.content[:ERROR_BODY_KEEP],
                ),
                self,
            ) from None


def redacted(exc: DecodeError, response: Response) -> DecodeError:
    """``exc`` with the credentials ``response``'s request carried redacted from its message
    and ``body``: a success that is not what was promised (a proxy's page, say) may quote
    them. The one place every decoding error of an answer passes through."""
    secrets = Secrets(credentials_in(response.sent))
    if secrets:
        exc.body = secrets.redact_bytes(exc.body)
        exc.args = tuple(secrets.redact(a) if isinstance(a, str) else a for a in exc.args)
    return exc


def as_is(response: Response) -> Response:
    """The answer itself, undecoded: the ``decode`` of calls that want the :class:`Response`."""
    return response


class Requester(Protocol):
    """The part of :class:`~ffn_async.FFNClient` the rest of the package calls."""

    @property
    def environment(self) -> Environment:
        """Where the API is (links are checked against its origin)."""

    @property
    def retry(self) -> RetryPolicy:
        """The client's retry policy (safe creates pace their look-ups with it)."""

    def _start(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        scope: str | None,
        idempotent: bool | None,
        timeout: float | None,
        safe_create: bool | None,
        download: bool,
        dest: str | os.PathLike[str] | None,
        decode: Callable[[Response], T],
    ) -> Awaitable[T]:
        """The pipeline's entry (``FFNClient._start``): the awaitable that sends the request and
        applies ``decode`` to its answer; the typed namespaces call it directly."""

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        scope: str | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        safe_create: bool | None = None,
        download: bool = False,
        dest: str | os.PathLike[str] | None = None,
    ) -> Response:
        """:meth:`FFNClient.request_raw <ffn_async.FFNClient.request_raw>`."""


def get(
    client: Requester,
    path: str,
    path_params: Mapping[str, str | int] | None,
    params: Mapping[str, Any] | None,
    scope: str | None,
    timeout: float | None,
    decode: Callable[[Response], T],
) -> Awaitable[T]:
    """A GET through ``client``'s pipeline, its answer read by ``decode`` there: a body that
    is not what was promised raises inside the pipeline, where the request's credentials are
    redacted from the :class:`~ffn_async.errors.DecodeError` as from any error answer."""
    return client._start(
        "GET", path, path_params, params, None, None, scope, None, timeout, None, False, None,
        decode,
    )  # fmt: skip
