"""Pages of list endpoints and walks of change feeds.

Lists (``$top``/``$skip``) answer ``{items, _page, _links, nextPageLink, count}`` where
``nextPageLink`` is a *relative* query string (``?$top=50&$skip=100``); :class:`Paginator`
follows it with a bounded read-ahead. Change feeds (``…/updates``) answer
``{from, to, data, moreDataAvailable, nextChunkUrl}`` where ``nextChunkUrl`` is an *absolute*
URL; :class:`ChangeFeed` follows it and exposes the ``to`` watermark to checkpoint. A link that
points at another origin than the configured API is refused (:class:`ForeignLinkError`): the
bearer token must never travel there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from urllib.parse import unquote

import attrs

from ..errors import DecodeError, ForeignLinkError, ValidationError
from ..http.links import api_link

if TYPE_CHECKING:
    from ..http._requester import Requester

__all__ = [
    "TO_DATE_MARGIN",
    "ChangeFeed",
    "Chunk",
    "ChunkedList",
    "ForeignLinkError",
    "ListPage",
    "Page",
    "Paginator",
]

T = TypeVar("T")
G = TypeVar("G")
R = TypeVar("R")

_PAGE_MEMBERS: Final = ("_page", "_links", "nextPageLink", "count")
_FEED_MEMBERS: Final = ("from", "to", "moreDataAvailable", "nextChunkUrl")
_CHUNK_MEMBERS: Final = ("date", "moreDataAvailable", "nextChunkUrl")

TO_DATE_MARGIN: Final = dt.timedelta(seconds=5)
"""How far before the local clock a change-feed window ends: FFN rejects a ``toDate`` later
than its own clock, and the two clocks are never exactly in step."""


async def _each_item(
    groups: AsyncGenerator[G, None], items: Callable[[G], list[T]]
) -> AsyncIterator[T]:
    """The items of every group (page, chunk) in turn; stopping early closes the walk."""
    async with aclosing(groups) as walk:
        async for group in walk:
            for item in items(group):
                yield item


def _structure_list(data: Any, item: type[T], what: str) -> list[T]:
    from ..codec.serialization import structure

    if data is None:
        return []
    if not isinstance(data, list):
        raise DecodeError(f"{what}: expected a JSON array, got {type(data).__name__}")
    return structure(data, list[item])  # type: ignore[valid-type]


class _Source(Generic[T]):
    """Fetches pages of one list operation: the first from its template, later ones by link."""

    def __init__(
        self,
        client: Requester,
        path: str,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any],
        item: type[T],
        scope: str | None,
        timeout: float | None,
    ) -> None:
        self.client = client
        self.path = path
        self.path_params = path_params
        self.params = params
        self.item = item
        self.scope = scope
        self.timeout = timeout

    def resolve(self, link: str) -> tuple[str, Mapping[str, str], Mapping[str, str | int] | None]:
        """Where ``link`` leads: (path, query, path params), after the origin check.

        A relative query string (what FFN sends) is re-encoded against the list's own path:
        servers leave spaces and quotes raw in it (``$orderBy=x desc``). ``+`` stays a plus, as
        in the offsets of date-times.
        """
        api = self.client.environment.api_url
        if link.startswith("?") and "\\" not in link:
            pairs = (part.partition("=") for part in link[1:].split("&") if part)
            query = {unquote(key): unquote(value) for key, _, value in pairs}
            return self.path, query, self.path_params
        return str(api_link(link, api, relative=True)), {}, None

    async def fetch(self, link: str | None = None) -> ListPage[T]:
        """The first page, or the page ``link`` points at."""
        if link is None:
            path, params, path_params = self.path, self.params, self.path_params
        else:
            path, params, path_params = self.resolve(link)
        top = self.params.get("$top")
        client = self.client
        request = client.build(
            "GET",
            path,
            path_params=path_params,
            params=params,
            scope=self.scope,
            timeout=self.timeout,
        )
        return await client.send(
            request, lambda response: ListPage.from_bytes(response.content, self, requested_top=top)
        )


@attrs.frozen
class ListPage(Generic[T]):
    """One page of a list endpoint.

    Attributes:
        items: the decoded items.
        total: ``_page.total`` as sent (the spec calls it "total pages"; verify before use).
        limit: ``_page.limit``, the page size.
        offset: ``_page.offset``.
        next_link: ``nextPageLink``, a relative query string, or ``None`` on the last page.
        count: ``count`` as sent.
    """

    items: list[T]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    next_link: str | None = None
    count: int | None = None
    _source: _Source[T] | None = attrs.field(default=None, repr=False, eq=False, alias="source")
    _requested_top: int | None = attrs.field(
        default=None, repr=False, eq=False, alias="requested_top"
    )

    @classmethod
    def from_bytes(
        cls, content: bytes, source: _Source[T], *, requested_top: int | None = None
    ) -> ListPage[T]:
        """Decode a response body straight into a page, without building dicts first."""
        from ..codec.serialization import decode_envelope, loads

        fast = decode_envelope(content, source.item, "items", _PAGE_MEMBERS)
        if fast is None:  # the dict path: lenient, and names the path of an error
            data = loads(content) if content else None
            return cls.from_json(data, source, requested_top=requested_top)
        members, items = fast
        if members is None:
            assert items is not None
            return cls(items, count=len(items), source=source)
        return cls._envelope(members, items or [], source, requested_top)

    @classmethod
    def from_json(
        cls, data: Any, source: _Source[T], *, requested_top: int | None = None
    ) -> ListPage[T]:
        """Decode a paged envelope, or a bare JSON array (some endpoints send one)."""
        if isinstance(data, list):
            return cls(_structure_list(data, source.item, "page"), count=len(data), source=source)
        if not isinstance(data, dict):
            raise DecodeError(f"expected a paged object, got {type(data).__name__}")
        items = _structure_list(data.get("items"), source.item, "page items")
        return cls._envelope(data, items, source, requested_top)

    @classmethod
    def _envelope(
        cls,
        data: dict[str, Any],
        items: list[T],
        source: _Source[T],
        requested_top: int | None,
    ) -> ListPage[T]:
        meta: dict[str, Any] = data["_page"] if isinstance(data.get("_page"), dict) else {}
        link = data.get("nextPageLink") or None
        if link is None and isinstance(data.get("_links"), dict):
            link = data["_links"].get("next") or None
        return cls(
            items,
            total=meta.get("total"),
            limit=meta.get("limit"),
            offset=meta.get("offset"),
            next_link=link,
            count=data.get("count"),
            source=source,
            requested_top=requested_top,
        )

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    @property
    def has_next(self) -> bool:
        """Whether another page follows: a link, and this page was neither empty nor short."""
        if not self.next_link or not self.items:
            return False
        size = self._requested_top or self.limit
        return not (size and len(self.items) < size)

    async def next_page(self) -> ListPage[T] | None:
        """Fetch the page after this one (``None`` when this is the last)."""
        if not self.has_next or self._source is None or self.next_link is None:
            return None
        return await self._source.fetch(self.next_link)


Page = ListPage
"""The earlier name of :class:`ListPage`, kept because code and the generated signatures use
it; not to be confused with :class:`ffn_async.models.common.Page`, the ``_page`` block a list
answer carries (``ListPage.total``/``limit``/``offset`` come from it)."""


class Paginator(Generic[T]):
    """All items of a list endpoint, page after page: ``async for item in paginator``.

    While you process one page, at most ``prefetch`` following pages are fetched ahead (0
    disables read-ahead). Stopping early (``break``) cancels the read-ahead cleanly. Iterating
    again starts over from the first page.
    """

    def __init__(self, first: Callable[[], Awaitable[ListPage[T]]], *, prefetch: int = 1) -> None:
        if prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        self._first = first
        self.prefetch = prefetch

    def __aiter__(self) -> AsyncIterator[T]:
        return _each_item(self.pages(), lambda page: page.items)

    async def pages(self) -> AsyncGenerator[ListPage[T], None]:
        """The pages themselves, with the same read-ahead."""
        page = await self._first()
        if self.prefetch == 0:
            seen = set()
            while True:
                yield page
                if page.next_link in seen:
                    return
                seen.add(page.next_link)
                following = await page.next_page()
                if following is None:
                    return
                page = following
        queue: asyncio.Queue[ListPage[T] | BaseException | None] = asyncio.Queue()
        slots = asyncio.Semaphore(self.prefetch)
        producer = asyncio.create_task(self._produce(page, queue, slots))
        try:
            yield page
            while True:
                got = await queue.get()
                if got is None:
                    return
                if isinstance(got, BaseException):
                    raise got
                slots.release()  # the consumer holds this page now: one more may be fetched
                yield got
        finally:
            producer.cancel()
            await asyncio.wait([producer])

    @staticmethod
    async def _produce(
        page: ListPage[T],
        queue: asyncio.Queue[ListPage[T] | BaseException | None],
        slots: asyncio.Semaphore,
    ) -> None:
        seen = {page.next_link}
        try:
            while True:
                await slots.acquire()
                following = await page.next_page()
                if following is None:
                    break
                queue.put_nowait(following)
                if following.next_link in seen:  # a server repeating a link would loop forever
                    break
                seen.add(following.next_link)
                page = following
        except Exception as exc:
            queue.put_nowait(exc)
            return
        queue.put_nowait(None)


@attrs.frozen
class Chunk(Generic[T]):
    """One response of a change feed: the window, its items and whether more follow."""

    from_date: dt.datetime | None
    to_date: dt.datetime | None
    items: list[T]
    more_data_available: bool
    next_chunk_url: str | None


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValidationError(name, "needs a timezone (for example datetime.now(timezone.utc))")
    return value


def _parse_time(value: Any) -> dt.datetime | None:
    from ..codec.serialization import structure

    return None if value is None else structure(value, dt.datetime)


class ChangeFeed(Generic[T]):
    """A walk over a change feed (``…/updates``): ``async for obj in feed`` yields each object.

    The window ends at ``to_date`` clamped to :data:`TO_DATE_MARGIN` before now (the server
    rejects a later one). Chunks are followed through ``nextChunkUrl`` while
    ``moreDataAvailable``. When the walk has finished, :attr:`to` holds the window's end as the
    server reported it: store it and pass it as ``from_date`` next time. Objects are whole
    objects, not deltas; one may appear in consecutive windows, so deduplicate by id.
    """

    def __init__(
        self,
        client: Requester,
        path: str,
        path_params: Mapping[str, str | int] | None,
        item: type[T],
        *,
        scope: str | None,
        from_date: dt.datetime | None,
        to_date: dt.datetime | None,
        page: int | None = None,
        ignore_own_application_id: bool | None = None,
        ignore_own_user_id: bool | None = None,
        timeout: float | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._client = client
        self._path = path
        self._path_params = path_params
        self._item = item
        self._scope = scope
        self._timeout = timeout
        latest = (now or (lambda: dt.datetime.now(dt.UTC)))() - TO_DATE_MARGIN
        end = _aware("to_date", to_date)
        self.from_date = _aware("from_date", from_date)
        self.to_date = latest if end is None or end > latest else end
        self._page = page
        self._params: dict[str, Any] = {
            "fromDate": self.from_date,
            "toDate": self.to_date,
            "page": page,
            "ignoreOwnApplicationId": ignore_own_application_id,
            "ignoreOwnUserId": ignore_own_user_id,
        }
        self.to: dt.datetime | None = None
        """The watermark: the window's end once the walk completed, else ``None``."""

    def __aiter__(self) -> AsyncIterator[T]:
        return _each_item(self.chunks(), lambda chunk: chunk.items)

    async def chunks(self) -> AsyncGenerator[Chunk[T], None]:
        """The feed's responses one by one (same walk, same watermark)."""
        self.to = None
        if self.from_date is not None and self.from_date >= self.to_date:
            self.to = self.from_date  # nothing can have changed yet; keep the checkpoint
            return
        walk = _ChunkWalk(
            self._client,
            self._path,
            self._path_params,
            self._params,
            page=self._page or 1,
            scope=self._scope,
            timeout=self._timeout,
            what="change feed",
        )
        window_end: dt.datetime | None = None
        while True:
            chunk = await walk.fetch(self._decode_bytes)
            window_end = window_end or chunk.to_date
            yield chunk
            if not chunk.more_data_available:
                break
            walk.advance(chunk.next_chunk_url)
        self.to = window_end or self.to_date

    def _decode_bytes(self, content: bytes) -> Chunk[T]:
        data, items = _chunk_parts(content, self._item, "data", _FEED_MEMBERS, "change feed")
        return Chunk(
            from_date=_parse_time(data.get("from")),
            to_date=_parse_time(data.get("to")),
            items=items,
            more_data_available=bool(data.get("moreDataAvailable")),
            next_chunk_url=data.get("nextChunkUrl") or None,
        )


def _chunk_parts(
    content: bytes, item: type[T], key: str, members: tuple[str, ...], what: str
) -> tuple[dict[str, Any], list[T]]:
    """The members of a chunk answer (an object) and its items under ``key``: straight from
    the bytes as pages do, or by the dict path (lenient, naming the path of an error)."""
    from ..codec.serialization import decode_envelope, loads

    fast = decode_envelope(content, item, key, members)
    if fast is not None and fast[0] is not None:
        return fast[0], fast[1] or []
    data = loads(content) if content else None
    if not isinstance(data, dict):
        raise DecodeError(f"{what}: expected an object, got {type(data).__name__}")
    return data, _structure_list(data.get(key), item, f"{what} {key}")


class _ChunkWalk:
    """The requests of a walk over chunks (change feeds, chunked lists): the first from the
    operation's template, each next one by ``nextChunkUrl`` (checked: on the API's origin, and
    not seen before, as a server repeating a link would loop forever) or, without a link, by
    the next ``page`` number (the spec allows either)."""

    def __init__(
        self,
        client: Requester,
        path: str,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any],
        *,
        page: int,
        scope: str | None,
        timeout: float | None,
        what: str,
    ) -> None:
        self._client = client
        self._base_params = params
        self._path, self._path_params, self._params = path, path_params, params
        self._page = page
        self._scope = scope
        self._timeout = timeout
        self._what = what
        self._seen: set[str] = set()

    def fetch(self, decode: Callable[[bytes], R]) -> Awaitable[R]:
        """The current chunk, its body through ``decode``."""
        client = self._client
        request = client.build(
            "GET",
            self._path,
            path_params=self._path_params,
            params=self._params,
            scope=self._scope,
            timeout=self._timeout,
        )
        return client.send(request, lambda response: decode(response.content))

    def advance(self, link: str | None) -> None:
        """Move to the chunk ``link`` names, or to the next page number without one."""
        if link:
            url = api_link(link, self._client.environment.api_url, relative=False)
            if link in self._seen:
                raise DecodeError(f"{self._what} repeated its nextChunkUrl ({url.path})")
            self._seen.add(link)
            self._path, self._path_params, self._params = link, None, {}
        else:
            self._page += 1
            self._params = {**self._base_params, "page": self._page}


class ChunkedList(Generic[T]):
    """A listing the server sends in chunks (``stocks/complete``): ``async for item in listing``.

    Each answer holds ``items``, the snapshot's ``date``, ``moreDataAvailable`` and an absolute
    ``nextChunkUrl``; the walk follows the link (on the API's origin only, as change feeds do)
    until no more data is available. :attr:`date` is the snapshot's date once the first chunk
    has arrived.
    """

    def __init__(
        self,
        client: Requester,
        path: str,
        path_params: Mapping[str, str | int] | None,
        item: type[T],
        *,
        scope: str | None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        self._client = client
        self._path = path
        self._path_params = path_params
        self._item = item
        self._scope = scope
        self._params = dict(params or {})
        self._timeout = timeout
        self.date: dt.datetime | None = None
        """The snapshot's date as the server reported it (``None`` before the first chunk)."""

    def __aiter__(self) -> AsyncIterator[T]:
        return _each_item(self.chunks(), lambda items: items)

    async def chunks(self) -> AsyncGenerator[list[T], None]:
        """The items of each answer, one list per chunk."""
        walk = _ChunkWalk(
            self._client,
            self._path,
            self._path_params,
            self._params,
            page=self._params.get("page") or 1,
            scope=self._scope,
            timeout=self._timeout,
            what="chunked list",
        )
        while True:
            data, items = await walk.fetch(self._parts)
            if self.date is None:
                self.date = _parse_time(data.get("date"))
            yield items
            if not data.get("moreDataAvailable"):
                break
            walk.advance(data.get("nextChunkUrl") or None)

    def _parts(self, content: bytes) -> tuple[dict[str, Any], list[T]]:
        return _chunk_parts(content, self._item, "items", _CHUNK_MEMBERS, "chunked list")
