"""The demo behind ``ffn-async demo``: an order-sync run against the bundled fake server.

It does what a production order-sync worker does, under conditions worse than production:

1. Log in through the real authorization-code flow (a scripted browser follows the fake's
   redirect to a local callback server) and store the token in the embedded default store.
2. Create ``orders`` outbounds with ``concurrency`` coroutines while access tokens expire every
   few seconds and the server answers some requests 429 or 503, or drops the connection.
3. Follow the outbound change feed until every order is seen shipped.

POSTs are not retried blindly (FFN has no idempotency keys): when a create's answer is lost
(5xx, dropped connection), the order is looked up by its ``merchantOutboundNumber`` and created
again only if it does not exist. The summary then checks against the server's own records that
nothing was lost or created twice and that no refresh token was ever used twice.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar

import aiohttp
import attrs

from . import odata
from ._cli.config import default_store_url, open_store
from ._cli.login import RedirectCatcher, browser_login
from .auth import TokenManager
from .client import FFNClient
from .errors import ApiError, RateLimited, ServerError, TransportError
from .models import merchant as m
from .testing import FakeFFN, Faults

__all__ = ["DemoOptions", "DemoSummary", "run_demo"]

ProgressFn = Callable[[str, int, int], None]
_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_CREATE_ATTEMPTS = 8
_PRODUCTS = 20
T = TypeVar("T")


@attrs.frozen
class DemoOptions:
    """Knobs of the demo run (defaults: the README's main job)."""

    orders: int = 2000
    concurrency: int = 100
    token_lifetime: float = 3.0
    rate_limit: float = 0.02
    unavailable: float = 0.02
    drop: float = 0.005
    drop_after: float = 0.005
    retry_after: float = 0.2
    ship_after: float = 0.5
    seed: int = 7
    feed_timeout: float = 60.0


@attrs.frozen
class DemoSummary:
    """What the run did and what the server saw; :attr:`ok` is the verdict."""

    orders: int
    created: int
    duplicates: int
    lost: int
    requests: int
    token_refreshes: int
    token_rotations_stored: int
    reuse_attempts: int
    retries: int
    faults: dict[str, int]
    answers_lost_found: int
    answers_lost_recreated: int
    status_changes: int
    shipped_seen: int
    latency_p50_ms: float
    latency_p95_ms: float
    create_seconds: float
    throughput: float
    total_seconds: float
    store: str

    @property
    def ok(self) -> bool:
        """Nothing lost or duplicated, no refresh-token reuse, every order seen shipped."""
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.reuse_attempts == 0
            and self.created == self.orders
            and self.shipped_seen == self.orders
        )

    def rows(self) -> list[tuple[str, str]]:
        """The summary as ``(name, value)`` rows for a table."""
        f = self.faults
        faults = f"{f.get('rate_limit', 0)} / {f.get('unavailable', 0)} / " + str(
            f.get("drop", 0) + f.get("drop_after", 0)
        )
        return [
            ("orders created", f"{self.created} / {self.orders}"),
            ("duplicates (must be 0)", str(self.duplicates)),
            ("lost (must be 0)", str(self.lost)),
            ("API requests", str(self.requests)),
            ("token refreshes", str(self.token_refreshes)),
            ("token rotations stored", str(self.token_rotations_stored)),
            ("refresh-token reuse (must be 0)", str(self.reuse_attempts)),
            ("faults injected: 429 / 503 / dropped", faults),
            ("client retries (429/5xx/dropped)", str(self.retries)),
            ("lost answers: found by lookup", str(self.answers_lost_found)),
            ("lost answers: re-created", str(self.answers_lost_recreated)),
            ("status changes seen in feed", str(self.status_changes)),
            ("orders seen shipped", f"{self.shipped_seen} / {self.orders}"),
            (
                "create latency p50 / p95",
                f"{self.latency_p50_ms:.0f} / {self.latency_p95_ms:.0f} ms",
            ),
            ("throughput", f"{self.throughput:.0f} orders/s"),
            ("wall time", f"{self.total_seconds:.1f} s"),
            ("token store", self.store),
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary, with the verdict under ``ok``."""
        return {**attrs.asdict(self), "ok": self.ok}


@attrs.define
class _Tally:
    """Counters the job keeps while it runs."""

    created: dict[str, str] = attrs.Factory(dict)  # merchantOutboundNumber -> outboundId
    status: dict[str, str] = attrs.Factory(dict)  # outboundId -> last status seen
    latencies: list[float] = attrs.Factory(list)
    retries: int = 0
    found: int = 0
    recreated: int = 0
    changes: int = 0
    shipped: int = 0


def _count_retries(tally: _Tally) -> aiohttp.TraceConfig:
    """A trace config counting attempts after the first (the client's retries)."""

    async def on_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        info = ctx.trace_request_ctx
        if isinstance(info, dict) and info.get("attempt", 1) > 1:
            tally.retries += 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return trace


class Sku(NamedTuple):
    """A product as orders name it: FFN's jfsku and the merchant's own SKU."""

    jfsku: str
    merchant_sku: str


def _order(number: str, warehouse_id: str, product: Sku, index: int) -> m.CreateOutboundRequest:
    return m.CreateOutboundRequest(
        merchant_outbound_number=number,
        warehouse_id=warehouse_id,
        currency="EUR",
        shipping_address=m.CreateAddressRequest(
            firstname="Ada",
            lastname=f"Customer {index}",
            street="Hauptstr. 1",
            zip="40789",
            city="Monheim",
            country="DE",
        ),
        items=[
            m.CreateOutboundItemRequest(
                outbound_item_id="1",
                jfsku=product.jfsku,
                merchant_sku=product.merchant_sku,
                quantity=Decimal(1 + index % 3),
                name=product.merchant_sku,
            )
        ],
        order_value=Decimal("19.90"),
    )


async def _exactly_once(
    create: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]], tally: _Tally
) -> T:
    """Create an object once, even when answers get lost.

    FFN has no idempotency keys, so a create whose answer is lost (5xx, dropped connection)
    may or may not have happened: look the object up by the caller's own number and create it
    again only if it is not there. A 429 was refused before processing and is simply resent.
    """
    for _ in range(_CREATE_ATTEMPTS):
        try:
            return await create()
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after or 0.5)
            continue
        except (ServerError, TransportError):
            pass
        try:
            existing = await find()
        except (ApiError, TransportError):
            continue  # could not tell; the next round looks again
        if existing is not None:
            tally.found += 1
            return existing
        tally.recreated += 1
    raise RuntimeError(f"gave up after {_CREATE_ATTEMPTS} attempts")


async def _product(ffn: FFNClient, sku: str, tally: _Tally) -> Sku:
    """A product for the orders to ship (its jfsku is assigned by FFN)."""

    async def create() -> Sku:
        no = False
        specifications = m.CreateSpecificationsRequest(
            is_batch=no,
            is_divisible=no,
            is_best_before=no,
            is_serial_number=no,
            is_bill_of_materials=no,
            is_packaging=no,
        )
        body = m.CreateProductRequest(
            name=f"Article {sku}",
            merchant_sku=sku,
            identifier=m.CreateIdentifierRequest(),
            specifications=specifications,
        )
        product = await ffn.merchant.products.create(body)
        return Sku(product.jfsku, sku)

    async def find() -> Sku | None:
        page = await ffn.merchant.products.list(filter=odata.F("merchantSku").eq(sku), top=1)
        found = page.items[0].jfsku if page.items else None
        return Sku(found, sku) if found else None

    return await _exactly_once(create, find, tally)


async def _outbound(ffn: FFNClient, order: m.CreateOutboundRequest, tally: _Tally) -> None:
    number = order.merchant_outbound_number

    async def find() -> m.Outbound | None:
        flt = odata.F("merchantOutboundNumber").eq(number)
        page = await ffn.merchant.outbounds.list(filter=flt, top=2)
        return page.items[0] if page.items else None

    started = time.monotonic()
    try:
        outbound = await _exactly_once(lambda: ffn.merchant.outbounds.create(order), find, tally)
    except RuntimeError:
        return  # counted as lost by the summary
    tally.latencies.append(time.monotonic() - started)
    tally.created[number] = outbound.outbound_id
    tally.status.setdefault(outbound.outbound_id, str(outbound.status))


async def _follow(
    ffn: FFNClient, tally: _Tally, creating: asyncio.Event, deadline: Callable[[], float]
) -> None:
    """Walk the change feed, checkpointing its watermark, until every order is seen shipped."""
    watermark = None
    while True:
        feed = ffn.merchant.outbounds.updates(from_date=watermark)
        async for outbound in feed:
            status = str(outbound.status)
            previous = tally.status.get(outbound.outbound_id)
            if previous is not None and previous != status:
                tally.changes += 1
            if status == m.OutboundStatusType.SHIPPED and previous != status:
                tally.shipped += 1
            tally.status[outbound.outbound_id] = status
        watermark = feed.to
        finished = not creating.is_set() and tally.shipped >= len(tally.created)
        if finished or time.monotonic() > deadline():
            return
        await asyncio.sleep(0.5)


async def _scripted_browser(url: str) -> None:
    """Play the person's browser: open the authorize URL and follow the redirect home."""
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        await page.read()


@contextmanager
def _expected_failures_quiet() -> Iterator[None]:
    """Hide the log lines of failures the demo injects on purpose (unless DEBUG is on)."""
    levels = {"ffn_async": logging.ERROR}  # the retries of injected 429/503/drops
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    saved = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def run_demo(options: DemoOptions, progress: ProgressFn | None = None) -> DemoSummary:
    """Run the whole demo and return its summary. ``progress(phase, done, total)`` is optional."""
    report = progress or (lambda phase, done, total: None)
    began = time.monotonic()
    fake = FakeFFN(
        redirect_uri=None,
        token_lifetime=options.token_lifetime,
        auto_ship_after=options.ship_after,
        faults=Faults(
            rate_limit=options.rate_limit,
            retry_after=options.retry_after,
            unavailable=options.unavailable,
            drop=options.drop,
            drop_after=options.drop_after,
            seed=options.seed,
        ),
    )
    tally = _Tally()
    with _expected_failures_quiet(), tempfile.TemporaryDirectory(prefix="ffn-async-demo-") as tmp:
        store_url = default_store_url(Path(tmp))
        store = await open_store(store_url)
        try:
            async with (
                fake.run() as environment,
                RedirectCatcher("http://127.0.0.1:0/callback") as catcher,
            ):
                credentials = attrs.evolve(fake.credentials, redirect_uri=catcher.redirect_uri)
                auth = TokenManager(
                    credentials, store, key="demo-merchant", environment=environment
                )
                async with auth:
                    await browser_login(auth, catcher, _SCOPES, _scripted_browser, timeout=30)
                    async with FFNClient(
                        auth,
                        trace_configs=[_count_retries(tally)],
                        connector_limit=options.concurrency,
                    ) as ffn:
                        create_seconds = await _sync_orders(ffn, options, tally, report)
                    rotations = (await auth.stored()).rotation
        finally:
            await store.close()
    return _summarize(fake, options, tally, create_seconds, rotations, store_url, began)


async def _sync_orders(
    ffn: FFNClient, options: DemoOptions, tally: _Tally, report: ProgressFn
) -> float:
    """Create the orders and follow the feed; return the seconds the creates took."""
    warehouses = await ffn.merchant.warehouses.list(top=1)
    warehouse_id = warehouses.items[0].warehouse_id
    run = f"DEMO-{int(time.time()):x}"
    products = await asyncio.gather(
        *(_product(ffn, f"{run}-SKU-{n:02d}", tally) for n in range(_PRODUCTS))
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(options.orders):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            product = products[index % len(products)]
            order = _order(f"{run}-{index:05d}", warehouse_id, product, index)
            await _outbound(ffn, order, tally)
            report("creating orders", len(tally.created), options.orders)

    creating = asyncio.Event()
    creating.set()
    follow_until = [float("inf")]
    follower = asyncio.create_task(_follow(ffn, tally, creating, lambda: follow_until[0]))
    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
        create_seconds = time.monotonic() - started
        creating.clear()
        follow_until[0] = time.monotonic() + options.feed_timeout
        while not follower.done():
            report("orders seen shipped in the change feed", tally.shipped, options.orders)
            await asyncio.wait([follower], timeout=0.1)
        report("orders seen shipped in the change feed", tally.shipped, options.orders)
        await follower
    finally:
        follower.cancel()
    return create_seconds


def _summarize(
    fake: FakeFFN,
    options: DemoOptions,
    tally: _Tally,
    create_seconds: float,
    rotations: int,
    store_url: str,
    began: float,
) -> DemoSummary:
    stats = fake.stats
    numbers = [o["merchantOutboundNumber"] for o in fake.api.outbounds.collection.live()]
    on_server = set(numbers)
    duplicates = stats.duplicate_outbound_creates + (len(numbers) - len(on_server))
    lost = sum(1 for number in tally.created if number not in on_server) + (
        options.orders - len(tally.created)
    )
    latencies = sorted(tally.latencies) or [0.0]
    p50, p95 = (latencies[min(len(latencies) - 1, int(q * len(latencies)))] for q in (0.5, 0.95))
    return DemoSummary(
        orders=options.orders,
        created=len(on_server & set(tally.created)),
        duplicates=duplicates,
        lost=lost,
        requests=stats.api_requests,
        token_refreshes=stats.refreshes,
        token_rotations_stored=rotations,
        reuse_attempts=stats.reuse_attempts,
        retries=tally.retries,
        faults=dict(stats.faults),
        answers_lost_found=tally.found,
        answers_lost_recreated=tally.recreated,
        status_changes=tally.changes,
        shipped_seen=tally.shipped,
        latency_p50_ms=p50 * 1000,
        latency_p95_ms=p95 * 1000,
        create_seconds=create_seconds,
        throughput=options.orders / create_seconds if create_seconds else 0.0,
        total_seconds=time.monotonic() - began,
        store=store_url.partition(":")[0],
    )
