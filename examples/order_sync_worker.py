"""A multi-process order-sync worker that checkpoints the change feed and resumes after restarts.

``--processes N`` starts N worker processes sharing one token store (so one refresh per
rotation for all of them). Each owns the outbounds whose id hashes to its partition, walks
``ffn.merchant.outbounds.updates()`` from its checkpoint, hands each change to ``handle()``
(here: append a line to ``processed-<i>.jsonl``), then saves the feed's ``to`` as its new
checkpoint (``checkpoint-<i>.json``, written atomically).

Delivery is **at least once**: a process killed after handling a window but before saving its
checkpoint sees that window again after a restart, so ``handle()`` must be idempotent (key it by
outbound id and ``modificationInfo.updatedAt``). Nothing is missed: windows are ``[from, to)``
and each starts where the saved one ended. The feed reports each object's latest state, so two
changes to one order between polls arrive as one.

Run it (after ``ffn-async login`` with the same FFN_* variables)::

    python examples/order_sync_worker.py --state-dir ./sync-state --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import signal
import zlib
from pathlib import Path

from ffn_env import open_account

from ffn_async import FFNClient
from ffn_async.models import merchant


def _owner(outbound_id: str, processes: int) -> int:
    return zlib.crc32(outbound_id.encode()) % processes  # stable across processes and runs


def load_checkpoint(path: Path) -> dt.datetime | None:
    if not path.exists():
        return None
    return dt.datetime.fromisoformat(json.loads(path.read_text())["to"])


def save_checkpoint(path: Path, to: dt.datetime) -> None:
    """Replace the checkpoint atomically: a crash leaves the old or the new one, never half."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as file:
        json.dump({"to": to.isoformat()}, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def handle(sink: Path, changes: list[merchant.Outbound]) -> None:
    """The integration's work for a window (here: record it); must tolerate repeats."""
    with sink.open("a") as file:
        for outbound in changes:
            stamp = outbound.modification_info.updated_at or outbound.modification_info.created_at
            record = {
                "outboundId": outbound.outbound_id,
                "status": str(outbound.status),
                "updatedAt": stamp.isoformat(),
            }
            file.write(json.dumps(record) + "\n")
        file.flush()
        os.fsync(file.fileno())


async def sync(partition: int, processes: int, state_dir: Path, poll: float) -> None:
    checkpoint = state_dir / f"checkpoint-{partition}.json"
    sink = state_dir / f"processed-{partition}.jsonl"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    store, auth = await open_account()
    try:
        async with FFNClient(auth) as ffn:
            while not stop.is_set():
                feed = ffn.merchant.outbounds.updates(from_date=load_checkpoint(checkpoint))
                mine = [o async for o in feed if _owner(o.outbound_id, processes) == partition]
                handle(sink, mine)  # first the work ...
                if feed.to is not None:
                    save_checkpoint(checkpoint, feed.to)  # ... then the checkpoint
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
    finally:
        await store.close()


def _process(partition: int, processes: int, state_dir: str, poll: float) -> None:
    asyncio.run(sync(partition, processes, Path(state_dir), poll))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between feed walks")
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=_process, args=(i, args.processes, str(args.state_dir), args.poll))
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
