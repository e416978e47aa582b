"""What the registry knows about one API operation."""

from __future__ import annotations

from typing import Literal

import attrs

from ..retry import IDEMPOTENT_METHODS

__all__ = ["Api", "Grade", "Kind", "Operation"]

Api = Literal["fulfiller", "merchant", "shared"]
Grade = Literal["A", "B", "B-", "C", "?"]
Kind = Literal["model", "none", "array", "page", "feed", "chunks", "raw", "base64"]
"""How the response is handled: one model, no body, a bare JSON array, a paged list, a change
feed, a chunked listing (``nextChunkUrl`` / ``moreDataAvailable``, as ``stocks/complete``), raw
bytes, or a JSON object whose ``data`` field carries base64 bytes."""


@attrs.frozen
class Operation:
    """One operation: its id, where it lives in Python, and its HTTP shape.

    Attributes:
        operation_id: the spec's ``operationId`` (``OutboundsGetAll``; the Shared API, which has
            no spec, uses ``UsersGetCurrent``). Both specs use some of the same ids: the
            registry key :attr:`id` adds the API.
        api: ``merchant``, ``fulfiller`` or ``shared``.
        python: the method that performs it, as ``"merchant.outbounds.list"``.
        also: further methods over the same operation (``iterate``, ``download``).
        method, path: HTTP method and path template relative to the API base (``/v1/...``).
        scope: the scope the token needs (``None``: any valid token).
        grade: evidence grade of an endpoint no spec describes (``users/current``); ``None``
            for the operations of the Merchant and Fulfiller specs.
        summary: one line on what it does.
        kind: how the response is decoded (see :data:`Kind`).
        request_model, response_model: model class names in ``ffn_async.models.<api>``
            (the item model for lists, feeds and chunked listings).
        status: the documented success status (200, 201 with a body, 204 without).
        errors: the documented error statuses, each raised as its typed
            :class:`~ffn_async.errors.ApiError` (404 :class:`~ffn_async.errors.NotFound`, 410
            :class:`~ffn_async.errors.Gone`, 423 :class:`~ffn_async.errors.Locked` …).
    """

    operation_id: str
    api: Api
    python: str
    method: str
    path: str
    scope: str | None
    summary: str
    kind: Kind
    grade: Grade | None = None
    also: tuple[str, ...] = ()
    request_model: str | None = None
    response_model: str | None = None
    status: int | None = None
    errors: tuple[int, ...] = ()

    @property
    def id(self) -> str:
        """The key in :data:`~ffn_async.api.OPERATIONS`: ``"<api>.<operationId>"``."""
        return f"{self.api}.{self.operation_id}"

    @property
    def verified(self) -> bool:
        """Whether the endpoint is official or seen in real integrations (grade A or B)."""
        return self.grade in (None, "A", "B")

    @property
    def idempotent(self) -> bool:
        """Whether the HTTP method may be repeated, and so is retried automatically."""
        return self.method in IDEMPOTENT_METHODS
