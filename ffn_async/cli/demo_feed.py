"""The demo's change-feed worker: a process of its own, consuming outbounds with FeedConsumer.

It shares the demo's token store (token, checkpoint and lease) and logs what it does, one
unbuffered line at a time so a SIGKILL loses nothing written: ``L`` batch taken, ``D id status
updatedAt`` a change delivered, ``R`` batch processed, ``C`` committed, ``X`` commit refused
(each followed by the writer's pid, ``D`` before its fields).
The demo kills it in the middle of a batch, starts another, and checks the log against the
fake server's records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal

import attrs

from token_stores import LockTimeout

from ..auth.manager import TokenManager
from ..client import FFNClient
from ..environment import Environment
from ..errors import FFNError
from ..ordersync.checkpoint import FeedConsumer, LeaseLost, modification_time
from ..token import ClientCredentials
from .config import open_store

__all__ = ["FeedWorker", "run_feed_worker"]


@attrs.frozen
class FeedWorker:
    """Everything the worker process needs (picklable; the secret stays out of its repr)."""

    store_url: str = attrs.field(repr=False)
    key: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    redirect_uri: str | None
    api_url: str
    authorize_url: str
    token_url: str
    log: str
    lease_ttl: float
    overlap: float
    quiet: bool = True


def run_feed_worker(worker: FeedWorker) -> None:
    """Process entry point: consume the outbound feed until SIGTERM."""
    # Ctrl-C reaches the whole process group: the demo stops this worker itself (SIGTERM), so
    # the terminal shows the demo's one line instead of this process's traceback. (The demo
    # starts it with SIGINT ignored already; this holds for any other starter.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if worker.quiet:  # the failures the demo injects on purpose, as in the demo's own process
        logging.getLogger("ffn_async").setLevel(logging.CRITICAL)
    asyncio.run(_consume(worker))


def _line(fd: int, text: str) -> None:
    os.write(fd, (text + "\n").encode())


async def _consume(worker: FeedWorker) -> None:
    store = await open_store(worker.store_url)
    credentials = ClientCredentials(worker.client_id, worker.client_secret, worker.redirect_uri)
    environment = Environment(
        api_url=worker.api_url,
        authorize_url=worker.authorize_url,
        token_url=worker.token_url,
        name="fake",
    )
    auth = TokenManager(
        credentials, store, key=worker.key, environment=environment, request_timeout=2.0
    )
    fd = os.open(worker.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    me = os.getpid()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with auth, FFNClient(auth) as ffn:
            feed = FeedConsumer(
                store,
                f"{worker.key}/outbounds",
                ffn.merchant.outbounds.updates,
                key=lambda outbound: outbound.outbound_id,
                overlap=dt.timedelta(seconds=worker.overlap),
                lease_ttl=worker.lease_ttl,
                commit_margin=min(1.0, worker.lease_ttl / 4),
            )
            while not stop.is_set():
                try:
                    async with feed.batch(wait=0.2) as batch:
                        _line(fd, f"L {me}")
                        for outbound in batch:
                            at = modification_time(outbound)
                            stamp = at.isoformat() if at else "-"
                            _line(fd, f"D {me} {outbound.outbound_id} {outbound.status} {stamp}")
                            await asyncio.sleep(0.001)  # the integration's own work
                        _line(fd, f"R {me}")
                    _line(fd, f"C {me}")
                except LockTimeout:
                    continue  # another worker holds the feed
                except LeaseLost:
                    _line(fd, f"X {me}")
                except FFNError:
                    # A read that failed fast (the login is dead) or ran out of retries: the
                    # batch was not committed and comes again.
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.05)
    finally:
        os.close(fd)
        await store.close()
