"""An order-sync worker run as several processes on one account and one change feed.

Every process of ``--processes N`` shares the account's token store, which also holds the
feed's checkpoint and lease and the account's outbox (see the README, "Order sync that loses
nothing"):

* **Orders in** (``--orders FILE``, one ``CreateOutboundRequest`` JSON per line): process 0 submits
  them through the outbox. A lost answer never duplicates an order; while the account needs a
  new login or FFN is unreachable, orders are kept in the store and replayed in order later.
  Importing the same file again (after a crash, say) creates nothing twice.
* **Changes out**: the processes take turns on ``ffn.merchant.outbounds.updates`` under the
  feed's lease; one holds it at a time, another takes over when it dies. Each batch goes to
  ``handle()`` (here: appended to ``processed-<i>.jsonl``) and is committed only afterwards.
  Delivery is at-least-once: a process killed mid-batch leaves that batch to the next holder,
  so ``handle()`` must tolerate repeats (key them by outbound id and ``updatedAt``).

Run it (after ``ffn-async login`` with the same FFN_* variables)::

    python examples/order_sync_worker.py --state-dir ./state --processes 2 --orders orders.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
from pathlib import Path

from ffn_env import open_account

from ffn_async import FFNClient
from ffn_async.api import creates
from ffn_async.codec.serialization import loads, structure
from ffn_async.models import merchant
from ffn_async.ordersync.checkpoint import FeedConsumer, LeaseLost, modification_time
from ffn_async.ordersync.outbox import Kept, Outbox
from token_stores import LockTimeout


def handle(sink: Path, changes: list[merchant.Outbound]) -> None:
    """The integration's work for a batch (here: record it); must tolerate repeats."""
    with sink.open("a") as file:
        for outbound in changes:
            stamp = modification_time(outbound)
            record = {
                "outboundId": outbound.outbound_id,
                "status": str(outbound.status),
                "updatedAt": stamp.isoformat() if stamp else None,
            }
            file.write(json.dumps(record) + "\n")
        file.flush()
        os.fsync(file.fileno())


async def import_orders(ffn: FFNClient, outbox: Outbox, orders: Path) -> None:
    """Submit each order once: created now, found (made earlier), or kept for a replay."""
    for line in (await asyncio.to_thread(orders.read_text)).splitlines():
        if line.strip():
            order = structure(loads(line), merchant.CreateOutboundRequest)
            result = await outbox.submit(ffn, creates.OUTBOUND, order)
            what = "kept" if isinstance(result, Kept) else result.outcome.value
            print(f"order {order.merchant_outbound_number}: {what}", flush=True)


async def sync(partition: int, state_dir: Path, poll: float, orders: Path | None) -> None:
    sink = state_dir / f"processed-{partition}.jsonl"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    store, auth = await open_account()
    try:
        async with FFNClient(auth) as ffn:
            outbox = Outbox(store, auth.key)
            feed = FeedConsumer(
                store,
                f"{auth.key}/outbounds",
                ffn.merchant.outbounds.updates,
                key=lambda outbound: outbound.outbound_id,
            )
            if orders is not None and partition == 0:
                await import_orders(ffn, outbox, orders)
            while not stop.is_set():
                if await outbox.pending():
                    await outbox.replay(ffn)  # after a new login or an outage
                try:
                    async with feed.batch(wait=poll) as batch:
                        handle(sink, batch.items)
                    if batch.items:
                        print(f"process {partition}: {len(batch.items)} changes", flush=True)
                except LockTimeout:
                    pass  # another process holds the feed: stand by
                except LeaseLost:
                    pass  # not committed: the batch comes again
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
    finally:
        await store.close()


def _process(partition: int, state_dir: str, poll: float, orders: str | None) -> None:
    asyncio.run(sync(partition, Path(state_dir), poll, Path(orders) if orders else None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between feed batches")
    parser.add_argument("--orders", help="CreateOutboundRequest JSON lines to submit first")
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=_process, args=(i, str(args.state_dir), args.poll, args.orders))
        for i in range(args.processes)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
