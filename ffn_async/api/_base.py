"""The shared body of every generated API method.

Each method of :mod:`ffn_async.api.fulfiller`, :mod:`~ffn_async.api.merchant` and
:mod:`~ffn_async.api.shared` is one call into a helper here, named for the operation's
:data:`~ffn_async.api._operation.Kind` (``_model``, ``_none``, ``_array``, ``_page`` and
``_iterate``, ``_feed``, ``_chunks``, ``_raw``, ``_base64``); HTTP method, path template and
scope come from the operation's :data:`~ffn_async.api.OPERATIONS` entry, so they are written
down in exactly one place. The creates of :mod:`~ffn_async.api.creates`' table call
``_create``, the safe-create step. Request bodies are validated and encoded by
:func:`ffn_async.codec.serialization.dumps` before anything is sent; typed answers go from the
response bytes straight into the models (:func:`ffn_async.codec.serialization.decode`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from ..codec.serialization import decode_envelope, decoder, loads, structure
from ..errors import DecodeError
from ..http._files import replacing
from ..http._requester import Response, as_is
from . import odata
from ._operation import Operation
from ._registry import OPERATIONS
from .pagination import ChangeFeed, ChunkedList, ListPage, Paginator, _Source

if TYPE_CHECKING:
    from ..http._requester import Requester

__all__ = ["Namespace", "OrderBy", "PathParams", "Select"]

T = TypeVar("T")

PathParams: TypeAlias = Mapping[str, str | int] | None
Select: TypeAlias = str | Sequence[str | odata.Field] | None
"""``$select``: a raw string or a sequence of property paths."""
OrderBy: TypeAlias = str | Sequence[str | odata.OrderKey | odata.Field] | None
"""``$orderBy``: a raw string or a sequence of keys (``odata.desc("x")``)."""


def _nothing(response: Response) -> None:
    return None


_readers: dict[Any, Callable[[Response], Any]] = {}


def _reader(cls: type[T]) -> Callable[[Response], T]:
    """``Response -> cls``, made once per class: the body's bytes straight into the model; an
    empty body reads as null (a DecodeError naming ``cls``)."""
    read = _readers.get(cls)
    if read is None:
        decode = decoder(cls)

        def read(response: Response) -> T:
            return decode(response.content or b"null")

        _readers[cls] = read
    return read


def _odata_params(
    *,
    filter: odata.FilterLike | None,
    select: Select,
    order_by: OrderBy,
    top: int | None,
    skip: int | None,
) -> dict[str, Any]:
    if top is not None and top < 1:
        raise ValueError("top must be at least 1")
    if skip is not None and skip < 0:
        raise ValueError("skip must be >= 0")
    return {
        "$top": top,
        "$skip": skip,
        "$filter": odata.filter_text(filter),
        "$select": None if select is None else odata.select(select),
        "$orderBy": order_by
        if order_by is None or isinstance(order_by, str)
        else odata.order_by(*order_by),
    }


class Namespace:
    """A group of operations bound to one :class:`~ffn_async.FFNClient`.

    Creating one costs nothing; nested namespaces are created on first access and cached.
    """

    def __init__(self, client: Requester) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _call(
        self,
        op_id: str,
        path_params: PathParams,
        params: Mapping[str, Any] | None,
        body: object,
        timeout: float | None,
        decode: Callable[[Response], T],
    ) -> Awaitable[T]:
        """The operation's answer through ``decode``. A model ``body`` is validated and encoded
        by the client (:func:`ffn_async.codec.serialization.dumps`). Decoding there, not after, also
        redacts the request's credentials from a :class:`DecodeError`.

        Returns the client's own coroutine, which decodes the answer too: a typed call awaits
        it directly, with no coroutine of this module in between on every resume.
        """
        op: Operation = OPERATIONS[op_id]
        client = self._client
        request = client.build(
            op.method,
            op.path,
            path_params=path_params,
            params=params,
            json=body,
            scope=op.scope,
            timeout=timeout,
        )
        return client.send(request, decode)

    def _send(
        self,
        op_id: str,
        path_params: PathParams,
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        timeout: float | None,
    ) -> Awaitable[Response]:
        """The operation's :class:`Response`, body undecoded."""
        return self._call(op_id, path_params, params, body, timeout, as_is)

    def _model(
        self,
        op_id: str,
        path_params: PathParams,
        returns: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        timeout: float | None = None,
    ) -> Awaitable[T]:
        """An operation answering one object of ``returns``."""
        return self._call(op_id, path_params, params, body, timeout, _reader(returns))

    async def _create(
        self,
        op_id: str,
        path_params: PathParams,
        returns: type[T],
        *,
        body: object,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> T:
        """A create of :mod:`~ffn_async.api.creates`' table: a safe create when the client's
        ``safe_creates`` is on and ``body`` names its number, else one POST like
        :meth:`_model`. Either way the answer is read into ``returns`` inside the pipeline."""
        from .creates import create_response, safe_kind  # its models: on first create only

        op = OPERATIONS[op_id]
        read = _reader(returns)
        safe = safe_kind(self._client, op.path, body)
        if safe is None:
            return await self._call(op_id, path_params, params, body, timeout, read)
        kind, number = safe
        value, _, _ = await create_response(
            self._client,
            kind,
            body,
            decode=read,
            number=number,
            path_params=path_params,
            params=params,
            timeout=timeout,
        )
        return value

    def _none(
        self,
        op_id: str,
        path_params: PathParams,
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        timeout: float | None = None,
    ) -> Awaitable[None]:
        """An operation answering without content (201/204)."""
        return self._call(op_id, path_params, params, body, timeout, _nothing)

    async def _array(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        timeout: float | None = None,
    ) -> list[T]:
        """An operation answering a bare JSON array (tolerates a paged envelope too)."""

        def read(response: Response) -> list[T]:
            content = response.content
            fast = decode_envelope(content, item, "items", ())
            if fast is not None and fast[1] is not None:
                return fast[1]
            data = loads(content) if content else None  # the dict path: lenient, names errors
            if isinstance(data, dict) and isinstance(data.get("items"), list):
                data = data["items"]
            if not isinstance(data, list):
                raise DecodeError(f"{op_id}: expected a JSON array, got {type(data).__name__}")
            return structure(data, list[item])  # type: ignore[valid-type]

        # Decoded inside the pipeline, as every answer is: see _call.
        return await self._call(op_id, path_params, params, body, timeout, read)

    def _source(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        filter: odata.FilterLike | None,
        select: Select,
        order_by: OrderBy,
        top: int | None,
        skip: int | None,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> _Source[T]:
        op = OPERATIONS[op_id]
        query = _odata_params(filter=filter, select=select, order_by=order_by, top=top, skip=skip)
        if params:
            query.update(params)
        return _Source(self._client, op.path, path_params, query, item, op.scope, timeout)

    async def _page(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        filter: odata.FilterLike | None = None,
        select: Select = None,
        order_by: OrderBy = None,
        top: int | None = None,
        skip: int | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ListPage[T]:
        """One page of a list operation."""
        source = self._source(
            op_id,
            path_params,
            item,
            filter=filter,
            select=select,
            order_by=order_by,
            top=top,
            skip=skip,
            params=params,
            timeout=timeout,
        )
        return await source.fetch()

    def _iterate(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        filter: odata.FilterLike | None = None,
        select: Select = None,
        order_by: OrderBy = None,
        top: int | None = None,
        skip: int | None = None,
        params: Mapping[str, Any] | None = None,
        prefetch: int = 1,
        timeout: float | None = None,
    ) -> Paginator[T]:
        """Every item of a list operation, following ``nextPageLink``."""
        source = self._source(
            op_id,
            path_params,
            item,
            filter=filter,
            select=select,
            order_by=order_by,
            top=top,
            skip=skip,
            params=params,
            timeout=timeout,
        )
        return Paginator(source.fetch, prefetch=prefetch)

    def _feed(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        from_date: dt.datetime | None,
        to_date: dt.datetime | None,
        page: int | None,
        ignore_own_application_id: bool | None,
        ignore_own_user_id: bool | None,
        timeout: float | None,
    ) -> ChangeFeed[T]:
        """A walk over a change feed."""
        op = OPERATIONS[op_id]
        return ChangeFeed(
            self._client,
            op.path,
            path_params,
            item,
            scope=op.scope,
            from_date=from_date,
            to_date=to_date,
            page=page,
            ignore_own_application_id=ignore_own_application_id,
            ignore_own_user_id=ignore_own_user_id,
            timeout=timeout,
        )

    def _chunks(
        self,
        op_id: str,
        path_params: PathParams,
        item: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ChunkedList[T]:
        """A walk over a chunked listing (``nextChunkUrl`` / ``moreDataAvailable``)."""
        op = OPERATIONS[op_id]
        return ChunkedList(
            self._client, op.path, path_params, item, scope=op.scope, params=params, timeout=timeout
        )

    async def _raw(
        self,
        op_id: str,
        path_params: PathParams,
        *,
        dest: str | os.PathLike[str] | None,
        timeout: float | None,
    ) -> bytes | Path:
        """Raw bytes of a binary operation; with ``dest``, the :class:`~pathlib.Path` of the
        file the body was streamed into as it arrived (it is never held in memory).

        Limited by the client's ``max_download_size``.
        """
        op = OPERATIONS[op_id]
        client = self._client
        request = client.build(
            op.method,
            op.path,
            path_params=path_params,
            headers={"Accept": "application/octet-stream, */*"},
            scope=op.scope,
            timeout=timeout,
            download=True,
            dest=dest,
        )
        response = await client.send(request, as_is)
        return response.content if dest is None else Path(dest)

    async def _base64(
        self,
        op_id: str,
        path_params: PathParams,
        *,
        dest: str | os.PathLike[str] | None,
        timeout: float | None,
    ) -> bytes | Path:
        """The decoded ``data`` field of a JSON answer; with ``dest``, written to that file
        (atomically) and its :class:`~pathlib.Path` returned."""
        data = await self._call(op_id, path_params, None, None, timeout, Response.json)
        encoded = data.get("data") if isinstance(data, dict) else None
        if not isinstance(encoded, str):
            raise DecodeError(f"{op_id}: the answer has no base64 'data' field")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError(f"{op_id}: the 'data' field is not valid base64") from None
        if dest is None:
            return content
        target = Path(dest)
        async with replacing(target) as file:
            await asyncio.to_thread(file.write, content)
        return target
