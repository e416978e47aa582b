"""A replayer SIGKILLed after FFN took C-1 and C-2; the shop then cancels C-1 (issue 20).

0.1.0 removed applied entries only every 25: the restarted replay found C-1 cancelled, which
counts as absent, and created it again. Now an entry leaves the outbox as soon as FFN has it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import signal
import time

import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.api import creates
from ffn_async.ordersync.outbox import Kept, Outbox
from ffn_async.testing import FakeFFN
from tests.ordersync import builders
from tests.ordersync.conftest import FAST

from . import outbox_workers
from .specs import StoreSpec

pytestmark = pytest.mark.slow
SPAWN = multiprocessing.get_context("spawn")


async def test_a_replayer_killed_mid_replay_never_recreates_what_ffn_had(
    process_spec: StoreSpec,
) -> None:
    store = await process_spec.build_ready()
    fake = FakeFFN()
    name = f"outbox-{secrets.token_hex(4)}"
    run = secrets.token_hex(3)
    c1, c2, c3 = (f"C-{run}-{i}" for i in (1, 2, 3))
    lease_ttl = 2.0
    try:
        async with fake.run() as env:
            token = fake.token(outbox_workers.SCOPES).access_token
            jfsku = fake.api.add_product(f"SKU-{run}", "Part")["jfsku"]
            outbox = Outbox(store, name, lease_ttl=lease_ttl, commit_margin=0.5)
            async with FFNClient(
                StaticToken(token, scopes=outbox_workers.SCOPES),
                environment=fake.environment,
                retry=FAST,
            ) as ffn:
                fake.faults.unavailable = 1.0
                for number in (c1, c2, c3):
                    order = builders.outbound(number, fake.api.default_warehouse_id, jfsku)
                    assert isinstance(await outbox.submit(ffn, creates.OUTBOUND, order), Kept)
                fake.faults.clear()
                fake.faults.hang_writes.add(c3)  # the replayer gets stuck sending C-3

                args = (process_spec, str(env.api_url), token, name, lease_ttl)
                child = SPAWN.Process(target=outbox_workers.replay, args=args)
                child.start()
                try:
                    deadline = time.monotonic() + 60
                    while fake.stats.outbound_creates[c2] == 0:
                        assert time.monotonic() < deadline, "the replayer sent nothing"
                        assert child.is_alive(), "the replayer ended early"
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.5)  # C-2 answered; C-3 is in flight, unanswered
                    assert child.pid is not None
                    os.kill(child.pid, signal.SIGKILL)
                finally:
                    await asyncio.to_thread(child.join, 30)
                fake.faults.clear()

                # The shop cancels C-1, as FFN lets it while the outbound is still open.
                first = fake.api.outbounds.collection.find("merchantOutboundNumber", c1)
                assert first is not None
                fake.api.outbounds.collection.update(first["outboundId"], {"status": "Canceled"})

                report = await outbox.replay(ffn, wait=lease_ttl + 3)
            assert report.stopped is None
            assert fake.stats.outbound_creates[c1] == 1  # never sent again
            numbers = [o["merchantOutboundNumber"] for o in fake.api.outbounds.collection]
            assert sorted(numbers) == sorted([c1, c2, c3])
            assert await outbox.pending() == 0
    finally:
        await store.close()
