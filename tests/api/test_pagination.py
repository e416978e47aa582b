"""Pagination and change feeds against a local aiohttp server over real sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import Environment, FFNClient, StaticToken
from ffn_async.api.odata import F
from ffn_async.api.pagination import TO_DATE_MARGIN, ForeignLinkError
from ffn_async.errors import DecodeError, ValidationError
from ffn_async.models import merchant
from ffn_async.retry import NO_RETRY

TOTAL = 237
TOKEN = "paging-test-token"


def fulfiller(user_id: str, active: bool = True) -> dict[str, Any]:
    """A merchant-spec ``Fulfiller`` with its required fields."""
    address = {"street": "Hauptstr. 1", "city": "Monheim", "country": "DE"}
    return {
        "userId": user_id,
        "isActive": active,
        "address": address,
        "modificationInfo": {"createdAt": "2024-01-02T03:04:05+00:00"},
    }


@attrs.define
class FakeApi:
    """A tiny FFN: fulfillers paged by $top/$skip, and a 3-chunk change feed."""

    base: str = ""
    requests: list[web.Request] = attrs.field(factory=list)
    next_chunk_host: str | None = None  # override the host of nextChunkUrl
    page_link: str | None = None  # override nextPageLink
    bare_array: bool = False
    to_date: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/merchant/fulfillers", self.fulfillers)
        app.router.add_get("/api/v1/merchant/fulfillers/updates", self.updates)
        app.router.add_get("/api/v1/merchant/stocks/warehouse/{warehouseId}", self.stocks)
        return app

    async def fulfillers(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        top = int(request.query.get("$top", "50"))
        skip = int(request.query.get("$skip", "0"))
        items = [fulfiller(f"{i:04d}", i % 2 == 0) for i in range(TOTAL)]
        flt = request.query.get("$filter")
        page = items[skip : skip + top]
        link = None
        if skip + top < TOTAL:
            link = f"?$top={top}&$skip={skip + top}"
            if flt:
                link += "&$filter=" + quote(flt, safe="$'/(),: ")
        if self.page_link is not None:
            link = self.page_link
        body = {
            "items": page,
            "_page": {"total": -(-TOTAL // top), "limit": top, "offset": skip},
            "_links": {"next": link},
            "nextPageLink": link,
            "count": len(page),
        }
        return web.json_response(body)

    async def updates(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        page = int(request.query.get("page", "1"))
        from_date = request.query["fromDate"]
        self.to_date = request.query["toDate"]
        more = page < 3
        host = self.next_chunk_host or self.base
        next_url = None
        if more:
            # Encoded like the spec's example: ':' and '+' percent-encoded, lower case.
            enc = lambda v: quote(v, safe="").replace("%3A", "%3a").replace("%2B", "%2b")  # noqa: E731
            next_url = (
                f"{host}/api/v1/merchant/fulfillers/updates?fromDate={enc(from_date)}"
                f"&toDate={enc(self.to_date)}&page={page + 1}"
                "&ignoreOwnApplicationId=false&ignoreOwnUserId=false"
            )
        body = {
            "from": from_date,
            "to": self.to_date,
            "data": [fulfiller(f"C{page}{i:02d}") for i in range(4)],
            "moreDataAvailable": more,
            "nextChunkUrl": next_url,
        }
        return web.json_response(body)

    async def stocks(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        levels = dict.fromkeys(
            ["stockLevel", "stockLevelReserved", "stockLevelAnnounced", "stockLevelBlocked"], 2.5
        )
        row = {
            "warehouseId": request.match_info["warehouseId"],
            "fulfillerId": "FULF",
            "jfsku": "MERC01ABCDE",
        }
        rows = [{**row, **levels, "merchantSku": "SKU-1"}]
        if self.bare_array:
            return web.json_response(rows)
        return web.json_response({"items": rows, "_page": {"total": 1, "limit": 50, "offset": 0}})


@pytest.fixture
async def server() -> AsyncIterator[FakeApi]:
    fake = FakeApi()
    async with TestServer(fake.app(), host="127.0.0.1") as running:
        fake.base = f"http://127.0.0.1:{running.port}"
        yield fake


@pytest.fixture
async def ffn(server: FakeApi) -> AsyncIterator[FFNClient]:
    env = Environment(
        api_url=f"{server.base}/api",
        authorize_url=f"{server.base}/authorize",
        token_url=f"{server.base}/token",
    )
    async with FFNClient(
        StaticToken(TOKEN, scopes=("ffn.merchant.read",)), environment=env, retry=NO_RETRY
    ) as c:
        yield c


def producers() -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks()
        if "_produce" in getattr(t.get_coro(), "__qualname__", "") and not t.done()
    ]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --------------------------------------------------------------------------- pages


async def test_iterate_237_items_in_pages_of_50(ffn: FFNClient, server: FakeApi) -> None:
    items = [f async for f in ffn.merchant.fulfillers.iterate(top=50)]
    assert [f.user_id for f in items] == [f"{i:04d}" for i in range(TOTAL)]
    assert all(isinstance(f, merchant.Fulfiller) for f in items)
    skips = [r.query.get("$skip") for r in server.requests]
    assert skips == [None, "50", "100", "150", "200"]
    assert all(r.query["$top"] == "50" for r in server.requests)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_iterate_pages_with_any_read_ahead(
    ffn: FFNClient, server: FakeApi, prefetch: int
) -> None:
    paginator = ffn.merchant.fulfillers.iterate(top=50, prefetch=prefetch)
    sizes = [len(page) async for page in paginator.pages()]
    assert sizes == [50, 50, 50, 50, 37]
    assert len(server.requests) == 5


async def test_filter_survives_the_next_page_link(ffn: FFNClient, server: FakeApi) -> None:
    flt = F("name").eq("O'Brien") | F("userId").startswith("0")
    items = [f async for f in ffn.merchant.fulfillers.iterate(top=100, filter=flt)]
    assert len(items) == TOTAL
    assert [r.query["$filter"] for r in server.requests] == [str(flt)] * 3
    assert str(flt) == "name eq 'O''Brien' or startswith(userId,'0')"


async def test_list_returns_one_page_and_fetches_the_next(ffn: FFNClient, server: FakeApi) -> None:
    page = await ffn.merchant.fulfillers.list(top=100, skip=200)
    assert (len(page), page.limit, page.offset, page.next_link) == (37, 100, 200, None)
    assert await page.next_page() is None
    first = await ffn.merchant.fulfillers.list(top=100)
    assert first.next_link == "?$top=100&$skip=100"
    second = await first.next_page()
    assert second is not None
    assert second.items[0].user_id == "0100"


async def test_read_ahead_is_bounded(ffn: FFNClient, server: FakeApi) -> None:
    iterator = ffn.merchant.fulfillers.iterate(top=10, prefetch=2).__aiter__()
    first = await iterator.__anext__()
    assert first.user_id == "0000"
    for _ in range(200):  # let the producer run as far as it may
        await asyncio.sleep(0.001)
        if len(server.requests) >= 3:
            break
    await settle()
    assert len(server.requests) == 3  # the current page + 2 ahead, no more
    await iterator.aclose()  # type: ignore[attr-defined]
    await settle()
    assert producers() == []


async def test_breaking_early_cancels_read_ahead_cleanly(ffn: FFNClient, server: FakeApi) -> None:
    async for fulfiller in ffn.merchant.fulfillers.iterate(top=50, prefetch=1):
        if fulfiller.user_id == "0003":
            break
    await settle()
    assert producers() == []
    assert len(server.requests) <= 2


async def test_short_page_ends_the_walk_even_with_a_link(ffn: FFNClient, server: FakeApi) -> None:
    server.page_link = "?$top=50&$skip=0"  # a buggy server always pointing back
    items = [f async for f in ffn.merchant.fulfillers.iterate(top=300)]
    assert len(items) == TOTAL
    assert len(server.requests) == 1


async def test_a_repeated_link_does_not_loop_forever(ffn: FFNClient, server: FakeApi) -> None:
    server.page_link = "?$top=50&$skip=50"
    items = [f async for f in ffn.merchant.fulfillers.iterate(top=50)]
    assert len(items) == 100  # page 1, then the linked page once
    assert len(server.requests) == 2


async def test_foreign_page_link_is_refused(ffn: FFNClient, server: FakeApi) -> None:
    server.page_link = "https://evil.example/api/v1/merchant/fulfillers?$skip=50"
    with pytest.raises(ForeignLinkError, match="evil.example"):
        _ = [f async for f in ffn.merchant.fulfillers.iterate(top=50)]
    assert len(server.requests) == 1
    await settle()
    assert producers() == []


async def test_same_origin_absolute_page_link_is_followed(ffn: FFNClient, server: FakeApi) -> None:
    server.page_link = f"{server.base}/api/v1/merchant/fulfillers?$top=50&$skip=200"
    page = await ffn.merchant.fulfillers.list(top=50)
    following = await page.next_page()
    assert following is not None
    assert [f.user_id for f in following][-1] == "0236"


@pytest.mark.parametrize("bare", [False, True])
async def test_stock_in_warehouse_accepts_envelope_or_bare_array(
    ffn: FFNClient, server: FakeApi, bare: bool
) -> None:
    server.bare_array = bare
    warehouse = "FULF04XX-1/2 0001"
    page = await ffn.merchant.stocks.list_in_warehouse(warehouse)
    assert [s.warehouse_id for s in page] == [warehouse]
    assert page.next_link is None
    assert server.requests[0].raw_path == "/api/v1/merchant/stocks/warehouse/FULF04XX-1%2F2%200001"
    stocks = [s async for s in ffn.merchant.stocks.iterate_in_warehouse(warehouse)]
    assert [s.stock_level for s in stocks] == [Decimal("2.5")]


# --------------------------------------------------------------------------- change feeds


async def test_updates_walks_three_chunks_and_reports_the_watermark(
    ffn: FFNClient, server: FakeApi
) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    feed = ffn.merchant.fulfillers.updates(from_date=since)
    assert feed.to is None
    ids = [f.user_id async for f in feed]
    assert ids == [f"C{p}{i:02d}" for p in (1, 2, 3) for i in range(4)]
    assert [r.query.get("page") for r in server.requests] == [None, "2", "3"]
    assert feed.to == dt.datetime.fromisoformat(server.to_date)
    assert feed.to <= dt.datetime.now(dt.UTC) - TO_DATE_MARGIN


async def test_updates_clamps_a_future_to_date(ffn: FFNClient, server: FakeApi) -> None:
    now = dt.datetime.now(dt.UTC)
    feed = ffn.merchant.fulfillers.updates(
        from_date=now - dt.timedelta(days=1), to_date=now + dt.timedelta(days=1)
    )
    [chunk, *_] = [c async for c in feed.chunks()]
    sent = dt.datetime.fromisoformat(server.requests[0].query["toDate"])
    assert sent <= dt.datetime.now(dt.UTC) - TO_DATE_MARGIN
    assert chunk.to_date == sent


async def test_updates_with_nothing_to_ask_keeps_the_checkpoint(
    ffn: FFNClient, server: FakeApi
) -> None:
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # later than now - margin
    feed = ffn.merchant.fulfillers.updates(from_date=recent)
    assert [f async for f in feed] == []
    assert feed.to == recent
    assert server.requests == []


async def test_naive_datetimes_are_rejected_before_sending(ffn: FFNClient, server: FakeApi) -> None:
    with pytest.raises(ValidationError) as info:
        ffn.merchant.fulfillers.updates(from_date=dt.datetime(2024, 1, 1))
    assert info.value.field == "from_date"
    assert server.requests == []


@pytest.mark.parametrize("host", ["http://localhost:1", "https://evil.example"])
async def test_foreign_next_chunk_url_is_refused(
    ffn: FFNClient, server: FakeApi, host: str
) -> None:
    server.next_chunk_host = host
    feed = ffn.merchant.fulfillers.updates(from_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    seen: list[merchant.Fulfiller] = []

    async def walk() -> None:
        async for f in feed:
            seen.append(f)

    with pytest.raises(ForeignLinkError) as info:
        await walk()
    assert len(seen) == 4  # the first chunk was delivered, the link was not followed
    assert len(server.requests) == 1
    assert feed.to is None  # an incomplete walk never advances the checkpoint
    assert "access token is only ever sent to the API" in str(info.value)
    assert TOKEN not in str(info.value)


async def test_feed_rejects_a_body_that_is_not_an_object(ffn: FFNClient) -> None:
    feed = ffn.merchant.fulfillers.updates()
    with pytest.raises(DecodeError, match="change feed: expected an object, got list"):
        feed._decode_bytes(b"[1, 2]")


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeApi]:
    """Another server on loopback: a link that leads here must never get a request."""
    fake = FakeApi()
    async with TestServer(fake.app(), host="127.0.0.1") as running:
        fake.base = f"127.0.0.1:{running.port}"
        yield fake


ODD_LINKS = {
    "scheme-relative": "//{host}/api/v1/merchant/fulfillers?$skip=50",
    "slash-backslash": "/\\{host}/api/v1/merchant/fulfillers?$skip=50",
    "backslashes": "\\\\{host}/api/v1/merchant/fulfillers?$skip=50",
    "scheme-backslashes": "http:\\\\{host}/api/v1/merchant/fulfillers?$skip=50",
    "backslash-in-authority": "{api}\\@{host}/api/v1/merchant/fulfillers",
    "backslash-in-query": "?$top=50&$skip=50\\{host}",
    "scheme-without-host": "http:{host}/api/v1/merchant/fulfillers",
}


@pytest.mark.parametrize("template", list(ODD_LINKS.values()), ids=list(ODD_LINKS))
async def test_odd_page_links_are_a_typed_error_and_nothing_is_sent_elsewhere(
    ffn: FFNClient, server: FakeApi, elsewhere: FakeApi, template: str
) -> None:
    server.page_link = template.format(host=elsewhere.base, api=server.base)
    page = await ffn.merchant.fulfillers.list(top=50)
    with pytest.raises(ForeignLinkError) as info:
        await page.next_page()
    assert "access token is only ever sent to the API" in str(info.value)
    assert elsewhere.requests == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("host", ["//{host}", "/\\{host}", "http:{host}"])
async def test_odd_next_chunk_urls_are_a_typed_error(
    ffn: FFNClient, server: FakeApi, elsewhere: FakeApi, host: str
) -> None:
    server.next_chunk_host = host.format(host=elsewhere.base)
    feed = ffn.merchant.fulfillers.updates(from_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ForeignLinkError):
        _ = [f async for f in feed]
    assert elsewhere.requests == []
    assert feed.to is None


async def test_a_scheme_relative_link_to_the_api_itself_is_followed(
    ffn: FFNClient, server: FakeApi
) -> None:
    server.page_link = f"{server.base.removeprefix('http:')}/api/v1/merchant/fulfillers?$skip=200"
    page = await ffn.merchant.fulfillers.list(top=50)
    following = await page.next_page()
    assert following is not None
    assert [f.user_id for f in following][-1] == "0236"
