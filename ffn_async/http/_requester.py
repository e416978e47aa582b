"""What namespaces, pages, feeds and safe creates need of a client: the :class:`Requester`
(build a :class:`Request`, then send it).

They are written against this small protocol instead of :class:`~ffn_async.FFNClient`, so
none of them imports the client and the client imports them freely (no import cycle).
:class:`Response`, the answer every request returns, lives here for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from .._redact import Secrets, credentials_in
from ..environment import Environment
from ..errors import ERROR_BODY_KEEP, DecodeError
from ..retry import RetryPolicy

if TYPE_CHECKING:
    from pathlib import Path

    import aiohttp

__all__ = ["Request", "Requester", "Response", "as_is", "display", "redacted"]

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


class Request:
    """One request, built (:meth:`Requester.build`) and ready to send (:meth:`Requester.send`).

    The URL is final, the body encoded, the headers the request's own; the token is set on
    ``headers`` by each attempt. A request may be sent more than once (a safe create sends its
    POST again after a lost answer): each send starts its own attempts.

    A plain slotted class with a keyword-only ``__init__``: one is built on every call, and
    attrs' generated ``__init__`` costs a measurable share of a tiny request.
    """

    __slots__ = (
        "attempt",
        "authorize",
        "body",
        "headers",
        "idempotent",
        "limit",
        "method",
        "refreshed",
        "target",
        "template",
        "timeout",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        template: str,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
        limit: tuple[int, str],
        body: bytes | None = None,
        idempotent: bool | None = None,
        target: Path | None = None,
        authorize: bool = True,
    ) -> None:
        self.method = method
        self.url = url
        self.template = template  # the path template (or the absolute URL's path)
        self.headers = headers
        self.timeout = timeout
        self.limit = limit  # (bytes, the FFNClient argument that sets it)
        self.body = body
        self.idempotent = idempotent  # None: the retry policy decides by the method
        self.target = target  # stream the body into this file
        self.authorize = authorize  # False: an absolute URL off the API's origin, no token
        self.refreshed = False  # the one forced refresh after a 401 was spent (this send)
        self.attempt = 1  # the attempt being sent (ffn_async.observe.tracing reads it)

    @property
    def operation(self) -> str:
        """What logs and traces call the request: the path template here; the client's own
        requests name the operation id (``"merchant.OutboundsGetAll"``), which this layer
        cannot look up (the registry lives above it)."""
        return self.template


class Requester(Protocol):
    """The part of :class:`~ffn_async.FFNClient` the rest of the package calls: build a
    request, then send it.

    ``send(build(...), decode)`` is one call's whole way: :meth:`build` checks and encodes
    (the URL, the scope, the body) and :meth:`send` runs the attempts and applies ``decode``
    to the answer that succeeds, inside the pipeline, so that a :class:`DecodeError` is
    redacted like an error answer.
    """

    @property
    def environment(self) -> Environment:
        """Where the API is (links are checked against its origin)."""

    @property
    def retry(self) -> RetryPolicy:
        """The client's retry policy (safe creates pace their look-ups with it)."""

    @property
    def safe_creates(self) -> bool:
        """Whether creates are safe by default (``FFNClient(safe_creates=...)``)."""

    def build(
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
        download: bool = False,
        dest: str | os.PathLike[str] | None = None,
    ) -> Request:
        """:meth:`FFNClient.build <ffn_async.FFNClient.build>`."""

    def send(self, request: Request, decode: Callable[[Response], T]) -> Awaitable[T]:
        """:meth:`FFNClient.send <ffn_async.FFNClient.send>`."""
