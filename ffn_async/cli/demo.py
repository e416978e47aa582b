"""The demo behind ``ffn-async demo``: an order-sync run against the bundled fake server.

It does what a production order-sync worker does, under conditions worse than production, and
leaves the hard parts to the library:

1. Log in through the real authorization-code flow (a scripted browser follows the fake's
   redirect to a local callback server) and store the token in the embedded default store.
2. Create ``orders`` outbounds with ``concurrency`` coroutines while access tokens expire every
   few seconds and the server answers some requests 429 or 503, or drops the connection. Each
   order goes through the outbox and a safe create (:mod:`ffn_async.ordersync.outbox`,
   :mod:`ffn_async.api.creates`): a lost answer is looked up, never sent twice.
3. Halfway through, the fake revokes the whole refresh chain. Orders are kept in the outbox
   while the account needs a login; a scripted re-login follows, and the outbox is replayed.
4. A separate worker process consumes the outbound change feed with a durable checkpoint and
   the feed's lease (:mod:`ffn_async.ordersync.checkpoint`). It is SIGKILLed in the middle of a
   batch and
   a new one takes over from the last commit.

The summary then checks against the server's own records that no order was lost or created
twice, that the feed delivered every order's last version, that the only repeated deliveries
are those of the batch the crash interrupted, and that no refresh token was ever used twice.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import aiohttp
import attrs

from ..api import creates
from ..api.creates import CreateOutcome
from ..auth.manager import TokenManager
from ..client import FFNClient
from ..errors import FFNError
from ..models import merchant as m
from ..ordersync.outbox import Kept, Outbox
from ..testing import FakeFFN, Faults
from .config import default_store_url, open_store
from .demo_feed import FeedWorker, run_feed_worker
from .login import RedirectCatcher, browser_login

__all__ = ["DemoOptions", "DemoSummary", "run_demo"]

ProgressFn = Callable[[str, int, int], None]
_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_PRODUCTS = 20
_ACCOUNT = "demo-merchant"
_FEED_LEASE = 3.0  # seconds; a killed feed worker's lease frees after this (SQLite store)
_FEED_OVERLAP = 30.0
# A feed window ends TO_DATE_MARGIN (5 s) before the client's clock, as FFN refuses a later end
# than its own. The fake's clock runs this much behind, so a change shows in the feed about
# half a second after it happened instead of five (the demo's wait, not the library's logic).
_FAKE_CLOCK_BEHIND = 4.5
# After the feed saw every order: how long to wait for the mid-batch kill of a small run.
_KILL_GRACE = 2.0


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
    revoke_at: float | None = 0.5
    """Share of the orders after which the fake revokes the refresh chain (``None``: never)."""
    kill_feed_worker: bool = True
    """SIGKILL the feed worker in the middle of a batch, then start another."""


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
    resent_refused: int
    status_changes: int
    shipped_seen: int
    chain_revoked: bool
    relogins: int
    outbox_kept: int
    outbox_replayed: int
    outbox_left: int
    feed_final_versions: int
    feed_delivered: int
    feed_missed: int
    feed_deliveries: int
    feed_worker_kills: int
    feed_redelivered_after_crash: int
    feed_redelivered_otherwise: int
    latency_p50_ms: float
    latency_p95_ms: float
    create_seconds: float
    throughput: float
    total_seconds: float
    store: str

    @property
    def ok(self) -> bool:
        """Nothing lost or duplicated, no refresh-token reuse, every order seen shipped, the
        outbox empty, the feed complete with repeats only from the interrupted batch."""
        return not self.failed_checks()

    def failed_checks(self) -> list[str]:
        """The checks that failed, each as its summary row says it (empty: all passed)."""
        checks = [
            ("duplicates", self.duplicates, 0),
            ("lost orders", self.lost, 0),
            ("refresh-token reuse", self.reuse_attempts, 0),
            ("orders created", self.created, self.orders),
            ("orders seen shipped", self.shipped_seen, self.orders),
            ("outbox: writes left", self.outbox_left, 0),
            ("feed: missed", self.feed_missed, 0),
            ("feed: other redeliveries", self.feed_redelivered_otherwise, 0),
        ]
        return [f"{name} {got:,} (must be {want:,})" for name, got, want in checks if got != want]

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
            ("lost answers: sent again (not created yet)", str(self.answers_lost_recreated)),
            ("creates sent again, refused as duplicates", str(self.resent_refused)),
            (
                "refresh chain revoked / fake re-logins",
                f"{'yes' if self.chain_revoked else 'no'} / {self.relogins}",
            ),
            (
                "outbox: writes kept / replayed / left (must be 0)",
                f"{self.outbox_kept} / {self.outbox_replayed} / {self.outbox_left}",
            ),
            ("status changes seen in feed", str(self.status_changes)),
            ("orders seen shipped", f"{self.shipped_seen} / {self.orders}"),
            (
                "feed: last versions delivered / on the server",
                f"{self.feed_delivered} / {self.feed_final_versions}",
            ),
            ("feed: missed (must be 0)", str(self.feed_missed)),
            ("feed: deliveries", str(self.feed_deliveries)),
            ("feed worker processes SIGKILLed", str(self.feed_worker_kills)),
            ("feed: redeliveries after the crash", str(self.feed_redelivered_after_crash)),
            ("feed: other redeliveries (must be 0)", str(self.feed_redelivered_otherwise)),
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

    submitted: set[str] = attrs.Factory(set)  # merchantOutboundNumber of every order handed in
    latencies: list[float] = attrs.Factory(list)
    retries: int = 0
    found: int = 0
    recreated: int = 0
    revoked: bool = False
    relogins: int = 0
    killed: list[int] = attrs.Factory(list)  # pids of feed workers SIGKILLed
    rotations_before: int = 0  # rotations stored under the login that was revoked


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


async def _product(ffn: FFNClient, sku: str) -> Sku:
    """A product for the orders to ship (its jfsku is assigned by FFN), created exactly once."""
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
    while True:
        try:
            done = await creates.create(ffn, creates.PRODUCT, body)
        except FFNError:
            await asyncio.sleep(0.2)  # out of retries; sending again is safe
            continue
        return Sku(done.value.jfsku, sku)


async def _outbound(
    ffn: FFNClient, outbox: Outbox, order: m.CreateOutboundRequest, tally: _Tally
) -> None:
    """Hand one order over: created, found after a lost answer, or kept in the outbox."""
    tally.submitted.add(order.merchant_outbound_number)
    started = time.monotonic()
    result = await outbox.submit(ffn, creates.OUTBOUND, order)
    if isinstance(result, Kept):
        return  # replayed later, exactly once
    tally.latencies.append(time.monotonic() - started)
    if result.outcome is CreateOutcome.RECOVERED:
        tally.found += 1
    elif result.attempts > 1:
        tally.recreated += 1


async def _scripted_browser(url: str) -> None:
    """Play the person's browser: open the authorize URL and follow the redirect home."""
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        await page.read()


@contextmanager
def _expected_failures_quiet() -> Iterator[None]:
    """Hide the log lines of failures the demo injects on purpose (unless DEBUG is on)."""
    # The retries of injected 429/503/drops, the revoked chain's invalid_grant, the kept writes.
    levels = {"ffn_async": logging.CRITICAL}
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


def _free_port() -> int:
    """A loopback port nobody listens on now (the redirect catcher's, for both logins)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _login(auth: TokenManager, redirect_uri: str) -> None:
    """The scripted person's browser login, through the real authorization-code flow."""
    async with RedirectCatcher(redirect_uri) as catcher:
        await browser_login(auth, catcher, _SCOPES, _scripted_browser, timeout=30)


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
    fake.clock.advance(-_FAKE_CLOCK_BEHIND)
    tally = _Tally()
    with _expected_failures_quiet(), tempfile.TemporaryDirectory(prefix="ffn-async-demo-") as tmp:
        store_url = default_store_url(Path(tmp))
        store = await open_store(store_url)
        feed_log = Path(tmp) / "feed.log"
        try:
            async with fake.run() as environment:
                async with RedirectCatcher(f"http://127.0.0.1:{_free_port()}/callback") as catcher:
                    credentials = attrs.evolve(fake.credentials, redirect_uri=catcher.redirect_uri)
                    # The fake answers token calls in milliseconds: after invalid_grant, wait 2 s
                    # (not 10) for a peer's rotation before declaring the chain dead.
                    auth = TokenManager(
                        credentials,
                        store,
                        key=_ACCOUNT,
                        environment=environment,
                        request_timeout=2.0,
                    )
                    await browser_login(auth, catcher, _SCOPES, _scripted_browser, timeout=30)
                worker = FeedWorker(
                    store_url=store_url,
                    key=_ACCOUNT,
                    client_id=credentials.client_id,
                    client_secret=credentials.client_secret,
                    redirect_uri=credentials.redirect_uri,
                    api_url=str(environment.api_url),
                    authorize_url=str(environment.authorize_url),
                    token_url=str(environment.token_url),
                    log=str(feed_log),
                    lease_ttl=_FEED_LEASE,
                    overlap=_FEED_OVERLAP,
                    quiet=not logging.getLogger().isEnabledFor(logging.DEBUG),
                )
                outbox = Outbox(store, _ACCOUNT)
                async with auth:
                    async with (
                        _FeedProcesses(worker, tally.killed) as feed,
                        FFNClient(
                            auth,
                            trace_configs=[_count_retries(tally)],
                            connector_limit=options.concurrency,
                        ) as ffn,
                    ):
                        create_seconds = await _sync_orders(
                            ffn, fake, auth, outbox, feed, options, tally, report
                        )
                    rotations = tally.rotations_before + (await auth.stored()).rotation
                left = await outbox.pending()
        finally:
            await store.close()
        deliveries = _read_feed_log(feed_log)
    return _summarize(
        fake,
        options,
        tally,
        outbox,
        left,
        deliveries,
        create_seconds,
        rotations,
        store_url,
        began,
    )


class _FeedProcesses:
    """The feed worker processes: one running at a time, killed and replaced on request."""

    def __init__(self, worker: FeedWorker, killed: list[int]) -> None:
        self.worker = worker
        self._spawn = multiprocessing.get_context("spawn")
        self.current: multiprocessing.process.BaseProcess | None = None
        self.killed = killed

    async def __aenter__(self) -> _FeedProcesses:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        process = self.current
        if process is not None and process.pid is not None:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()

    def start(self) -> None:
        self.current = self._spawn.Process(target=run_feed_worker, args=(self.worker,))
        # Ctrl-C signals the whole process group. A child started with SIGINT ignored keeps it
        # ignored from its first instruction (Python installs no handler for an ignored
        # signal), so an interrupt during its start-up prints no traceback either; the demo
        # stops it with SIGTERM.
        # (Only the main thread may change a handler; run elsewhere, the child ignores SIGINT
        # as soon as it runs.)
        if threading.current_thread() is not threading.main_thread():
            self.current.start()
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.current.start()
        finally:
            signal.signal(signal.SIGINT, previous)

    async def kill_and_restart(self) -> None:
        """SIGKILL the running worker (no chance to commit or clean up) and start another."""
        process = self.current
        assert process is not None
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.join, 10)
        self.killed.append(process.pid)
        self.start()


@attrs.frozen
class _Delivery:
    """One ``D`` line of the feed log, with the process that wrote it and its commit state."""

    pid: int
    outbound_id: str
    status: str
    updated_at: str
    committed: bool


def _read_feed_log(path: Path) -> list[_Delivery]:
    """Deliveries in order; ``committed`` is whether the writer later committed that batch."""
    if not path.exists():
        return []
    deliveries: list[_Delivery] = []
    open_batch: dict[int, list[int]] = {}  # pid -> indexes into deliveries
    for line in path.read_text().splitlines():
        head, _, rest = line.partition(" ")
        pid_text, _, rest = rest.partition(" ")
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if head == "L":
            open_batch[pid] = []
        elif head == "D":
            outbound_id, status, stamp = rest.split(" ")
            open_batch.setdefault(pid, []).append(len(deliveries))
            deliveries.append(_Delivery(pid, outbound_id, status, stamp, False))
        elif head == "C":
            for index in open_batch.pop(pid, []):
                deliveries[index] = attrs.evolve(deliveries[index], committed=True)
    return deliveries


def _log_tail(path: Path) -> list[str]:
    """The last complete lines of the feed log (a few KiB)."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 4096))
            lines = file.read().decode().split("\n")
    except FileNotFoundError:
        return []
    return lines[1:-1]  # the first may be cut, the last is unfinished (or empty)


async def _sync_orders(
    ffn: FFNClient,
    fake: FakeFFN,
    auth: TokenManager,
    outbox: Outbox,
    feed: _FeedProcesses,
    options: DemoOptions,
    tally: _Tally,
    report: ProgressFn,
) -> float:
    """Create the orders through the outbox while the chain dies and the feed worker is killed;
    wait until the feed has delivered every order shipped. Returns the seconds the creates took.
    """
    warehouses = await ffn.merchant.warehouses.list(top=1)
    warehouse_id = warehouses.items[0].warehouse_id
    run = f"DEMO-{int(time.time()):x}"
    products = await asyncio.gather(
        *(_product(ffn, f"{run}-SKU-{n:02d}") for n in range(_PRODUCTS))
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(options.orders):
        queue.put_nowait(index)
    revoke_after = None if options.revoke_at is None else int(options.orders * options.revoke_at)
    relogin: asyncio.Task[None] | None = None

    async def relogin_when_dead() -> None:
        # The person logs in again once the account is marked as needing it.
        for _ in range(600):
            dead = await auth.stored()
            if dead.reauthorization_required:
                tally.rotations_before = dead.rotation
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert auth.credentials.redirect_uri is not None
        await _login(auth, auth.credentials.redirect_uri)
        tally.relogins += 1

    async def worker() -> None:
        nonlocal relogin
        while not queue.empty():
            index = queue.get_nowait()
            if revoke_after is not None and index >= revoke_after and not tally.revoked:
                tally.revoked = True
                fake.oauth.revoke_all()  # the refresh chain dies mid-run
                relogin = asyncio.create_task(relogin_when_dead())
            product = products[index % len(products)]
            order = _order(f"{run}-{index:05d}", warehouse_id, product, index)
            await _outbound(ffn, outbox, order, tally)
            report("creating orders", len(tally.submitted), options.orders)

    async def kill_mid_batch() -> None:
        # Once a batch has been committed, wait for the worker to be inside the next one.
        log, committed = Path(feed.worker.log), False
        while True:
            tail = await asyncio.to_thread(_log_tail, log)
            committed = committed or any(line.startswith("C ") for line in tail)
            if committed and tail and tail[-1].startswith("D "):
                break
            await asyncio.sleep(0.01)
        await feed.kill_and_restart()

    killer = asyncio.create_task(kill_mid_batch()) if options.kill_feed_worker else None
    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
        if relogin is not None:
            await relogin
        deadline = time.monotonic() + options.feed_timeout
        while await outbox.pending() and time.monotonic() < deadline:
            replayed = await outbox.replay(ffn, wait=5.0)
            if replayed.stopped:
                await asyncio.sleep(0.2)
        create_seconds = time.monotonic() - started
        numbers, complete_at = tally.submitted, None
        while time.monotonic() < deadline:
            shipped = await asyncio.to_thread(_shipped_delivered, fake, numbers, feed.worker.log)
            report("orders seen shipped in the change feed", shipped, options.orders)
            if shipped >= options.orders:
                complete_at = complete_at or time.monotonic()
                # Give the kill a moment if it has not happened yet (a tiny run may finish first).
                if killer is None or killer.done() or time.monotonic() - complete_at > _KILL_GRACE:
                    break
            await asyncio.sleep(0.2)
    finally:
        for task in (killer, relogin):
            if task is not None and not task.done():
                task.cancel()
    if killer is not None and killer.done() and not killer.cancelled():
        killer.result()
    return create_seconds


def _ids_of(fake: FakeFFN, numbers: set[str]) -> dict[str, dict[str, Any]]:
    """The server's outbounds of this run, by outbound id."""
    return {
        o["outboundId"]: o
        for o in fake.api.outbounds.collection.live()
        if o["merchantOutboundNumber"] in numbers
    }


def _shipped_delivered(fake: FakeFFN, numbers: set[str], log: str) -> int:
    ids = _ids_of(fake, numbers)
    delivered = _read_feed_log(Path(log))
    return len({d.outbound_id for d in delivered if d.status == "Shipped" and d.outbound_id in ids})


def _summarize(
    fake: FakeFFN,
    options: DemoOptions,
    tally: _Tally,
    outbox: Outbox,
    left: int,
    deliveries: list[_Delivery],
    create_seconds: float,
    rotations: int,
    store_url: str,
    began: float,
) -> DemoSummary:
    stats = fake.stats
    numbers = [o["merchantOutboundNumber"] for o in fake.api.outbounds.collection.live()]
    on_server = set(numbers)
    # A create sent again after a lost answer is refused by FFN as a duplicate and leads to the
    # existing order (safe creates): only a second *object* is a duplicate.
    duplicates = len(numbers) - len(on_server)
    lost = sum(1 for number in tally.submitted if number not in on_server) + (
        options.orders - len(tally.submitted)
    )
    objects = _ids_of(fake, tally.submitted)
    final = {(i, o["modificationInfo"]["updatedAt"]) for i, o in objects.items()}
    mine = [d for d in deliveries if d.outbound_id in objects]
    versions = Counter((d.outbound_id, d.updated_at) for d in mine)
    delivered = {v for v in versions if v in final}
    # A repeat is expected only of what a killed worker delivered and never committed.
    uncommitted = {
        (d.outbound_id, d.updated_at) for d in mine if d.pid in tally.killed and not d.committed
    }
    repeats = {v: n - 1 for v, n in versions.items() if n > 1}
    after_crash = sum(n for v, n in repeats.items() if v in uncommitted)
    statuses: dict[str, list[str]] = {}
    for d in mine:
        seen = statuses.setdefault(d.outbound_id, ["Pending"])
        if seen[-1] != d.status:
            seen.append(d.status)
    latencies = sorted(tally.latencies) or [0.0]
    p50, p95 = (latencies[min(len(latencies) - 1, int(q * len(latencies)))] for q in (0.5, 0.95))
    return DemoSummary(
        orders=options.orders,
        created=len(on_server & tally.submitted),
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
        resent_refused=stats.duplicate_outbound_creates,
        status_changes=sum(len(s) - 1 for s in statuses.values()),
        shipped_seen=len({d.outbound_id for d in mine if d.status == "Shipped"}),
        chain_revoked=tally.revoked,
        relogins=tally.relogins,
        outbox_kept=outbox.stats.kept,
        outbox_replayed=outbox.stats.replayed,
        outbox_left=left,
        feed_final_versions=len(final),
        feed_delivered=len(delivered),
        feed_missed=len(final - delivered),
        feed_deliveries=len(mine),
        feed_worker_kills=len(tally.killed),
        feed_redelivered_after_crash=after_crash,
        feed_redelivered_otherwise=sum(repeats.values()) - after_crash,
        latency_p50_ms=p50 * 1000,
        latency_p95_ms=p95 * 1000,
        create_seconds=create_seconds,
        throughput=options.orders / create_seconds if create_seconds else 0.0,
        total_seconds=time.monotonic() - began,
        store=store_url.partition(":")[0],
    )
