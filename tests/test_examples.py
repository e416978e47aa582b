"""The examples, run against the fake FFN server."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from ffn_async import FFNClient, StaticToken, TokenManager
from ffn_async.cli.config import open_store
from ffn_async.testing import FakeFFN
from tests.helpers import EXAMPLES, examples_importable, fake_variables, outbound_request


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with examples_importable(monkeypatch, "web_service", "ffn_env", "order_sync_worker"):
        yield


def account_env(monkeypatch: pytest.MonkeyPatch, fake: FakeFFN, store_url: str) -> dict[str, str]:
    values = fake_variables(fake, FFN_ACCOUNT="acme", FFN_TOKEN_STORE=store_url)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


async def login(fake: FakeFFN, store_url: str) -> None:
    store = await open_store(store_url)
    auth = TokenManager(fake.credentials, store, key="acme", environment=fake.environment)
    await auth.store_token(fake.token())
    await store.close()


async def create_outbounds(fake: FakeFFN, count: int, prefix: str) -> list[str]:
    order = outbound_request(fake, "")
    async with FFNClient(
        StaticToken(fake.token().access_token), environment=fake.environment
    ) as ffn:
        created = await asyncio.gather(
            *(
                ffn.merchant.outbounds.create(
                    attrs.evolve(order, merchant_outbound_number=f"{prefix}-{n}")
                )
                for n in range(count)
            )
        )
    return [o.outbound_id for o in created]


async def test_web_service_shares_one_client(
    examples_path: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeFFN(token_lifetime=2.0)
    async with fake.run():
        store_url = f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
        account_env(monkeypatch, fake, store_url)
        await login(fake, store_url)
        await create_outbounds(fake, 3, "WEB")
        web_service = importlib.import_module("web_service")
        runner = web.AppRunner(web_service.create_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/outbounds?top=2") as resp:
                    assert resp.status == 200
                    page = await resp.json()
                assert [o["status"] for o in page["items"]] == ["Pending", "Pending"]
                # 3 outbounds, 2 a page: `_page.total` is 2 pages, not 3 outbounds (it was
                # answered as "total", read by every caller as a count of outbounds).
                assert page["pages"] == 2
                assert "total" not in page
                # The token is now due (half of its 2 s life): 50 requests, one refresh. Counted
                # from here: on a busy machine the first request may already have refreshed.
                await asyncio.sleep(1.2)
                refreshes = fake.stats.refreshes

                async def me() -> Any:
                    async with http.get(f"{base}/me") as resp:
                        assert resp.status == 200
                        return await resp.json()

                users = await asyncio.gather(*(me() for _ in range(50)))
            assert users[0] == {"userId": "MERC", "role": "Merchant"}
            assert fake.stats.refreshes - refreshes == 1
            assert fake.stats.reuse_attempts == 0
        finally:
            await runner.cleanup()


def _processed(state: Path) -> list[dict[str, str]]:
    records = []
    for sink in sorted(state.glob("processed-*.jsonl")):
        records += [
            json.loads(line) | {"sink": sink.name} for line in sink.read_text().splitlines()
        ]
    return records


async def _start_worker(state: Path, orders: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "order_sync_worker.py"),
        "--state-dir",
        str(state),
        "--processes",
        "2",
        "--poll",
        "0.3",
        "--orders",
        str(orders),
        stdout=asyncio.subprocess.PIPE,  # a line per order and per committed batch
        start_new_session=True,  # its own process group: the test can stop all its processes
    )


def _orders_file(fake: FakeFFN, path: Path, count: int) -> list[str]:
    """CreateOutboundRequest JSON lines, as a shop would hand them over."""
    from ffn_async.codec.serialization import dumps

    numbers = [f"SHOP-{n}" for n in range(count)]
    lines = []
    for number in numbers:
        order = outbound_request(fake, number)
        lines.append(dumps(order).decode())
    path.write_text("\n".join(lines) + "\n")
    return numbers


# Only a broken worker takes this long: a healthy one needs seconds, even on a busy machine.
STALLED = 300.0


async def _wait_for(
    worker: asyncio.subprocess.Process, state: Path, wanted: set[tuple[str, str]]
) -> None:
    """Until the worker has handled every change of ``wanted``, checked again each time it
    reports an order or a committed batch (a line on its stdout). Fails as soon as the worker
    exits; :data:`STALLED` only bounds a worker that hangs."""
    assert worker.stdout is not None
    try:
        async with asyncio.timeout(STALLED):
            while not wanted <= {(r["outboundId"], r["status"]) for r in _processed(state)}:
                if not await worker.stdout.readline():
                    code = await worker.wait()
                    raise AssertionError(
                        f"the worker exited ({code}) before processing {len(wanted)} changes"
                    )
    except TimeoutError:
        raise AssertionError(f"the worker stalled: {len(wanted)} changes not processed") from None


async def test_order_sync_worker_resumes_from_its_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeFFN(token_lifetime=2.0)
    state = tmp_path / "state"
    async with fake.run():
        store_url = f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
        account_env(monkeypatch, fake, store_url)
        await login(fake, store_url)
        ids = await create_outbounds(fake, 20, "SYNC")
        orders = tmp_path / "orders.jsonl"
        numbers = _orders_file(fake, orders, 5)

        worker = await _start_worker(state, orders)
        try:
            await _wait_for(worker, state, {(i, "Pending") for i in ids})
        finally:
            os.killpg(worker.pid, signal.SIGKILL)  # a crash: no chance to save anything
            await worker.wait()

        shipped = ids[:10]
        for outbound_id in shipped:  # changes while the worker is down
            fake.api.ship_outbound(outbound_id)

        worker = await _start_worker(state, orders)  # imports the same orders again
        try:
            await _wait_for(worker, state, {(i, "Shipped") for i in shipped})
        finally:
            os.killpg(worker.pid, signal.SIGTERM)  # a graceful stop
            async with asyncio.timeout(STALLED):
                await worker.communicate()  # reads its last lines: a full pipe cannot block it
            assert worker.returncode == 0

    records = _processed(state)
    seen = Counter((r["outboundId"], r["updatedAt"]) for r in records)
    # Every change was handled; a repeat only happens for the batch a crash interrupted.
    assert {(i, "Pending") for i in ids[10:]} | {(i, "Shipped") for i in shipped} <= {
        (r["outboundId"], r["status"]) for r in records
    }
    assert max(seen.values()) <= 2
    # The shop's orders exist once each, although the file was imported twice.
    on_server = Counter(o["merchantOutboundNumber"] for o in fake.api.outbounds.collection)
    assert all(on_server[n] == 1 for n in numbers)
    assert fake.stats.reuse_attempts == 0
