"""``ffn-async outbox list|replay|drop`` on an account whose creates were kept."""

from __future__ import annotations

import attrs
import orjson
import pytest

from ffn_async import FFNClient, TokenManager
from ffn_async.api import creates
from ffn_async.cli.config import open_store
from ffn_async.errors import ReauthorizationRequired
from ffn_async.ordersync.outbox import Kept, Outbox
from ffn_async.testing.pytest_plugin import RunningFake
from tests.ordersync import builders
from tests.ordersync.conftest import FAST

from .conftest import one_line_error


async def _keep_three(ffn_fake: RunningFake, store_url: str, account: str) -> list[str]:
    """Submit three outbounds while FFN answers only 503: all three are kept."""
    fake = ffn_fake.server
    jfsku = fake.api.add_product("CLI-SKU", "Part")["jfsku"]
    numbers = [f"CLI-{i}" for i in range(3)]
    store = await open_store(store_url)
    auth = TokenManager(fake.credentials, store, key=account, environment=ffn_fake.environment)
    try:
        async with FFNClient(auth, retry=FAST) as ffn:
            fake.faults.unavailable = 1.0
            for number in numbers:
                order = builders.outbound(number, fake.api.default_warehouse_id, jfsku)
                assert isinstance(
                    await Outbox(store, account).submit(ffn, creates.OUTBOUND, order), Kept
                )
            fake.faults.clear()
    finally:
        await store.close()
    return numbers


async def test_list_replay_and_drop(
    logged_in: TokenManager, ffn_fake: RunningFake, store_url: str, cli_env: dict[str, str], run_cli
) -> None:
    numbers = await _keep_three(ffn_fake, store_url, cli_env["FFN_ACCOUNT"])

    listed = await run_cli("outbox", "list", "--json")
    assert listed.code == 0
    rows = orjson.loads(listed.out)
    assert [r["number"] for r in rows] == numbers
    assert {r["state"] for r in rows} == {"waiting"}
    assert "ServerError" in rows[0]["last_error"]
    assert "CLI-1" in (await run_cli("outbox", "list")).out

    dropped = await run_cli("outbox", "drop", str(rows[0]["id"]))
    assert dropped.code == 0
    missing = await run_cli("outbox", "drop", "999")
    assert missing.code == 2
    assert "no entry 999" in one_line_error(missing)

    replayed = await run_cli("outbox", "replay")
    assert replayed.code == 0, replayed.err
    assert "2 sent, 0 refused, 0 set aside, 0 waiting" in replayed.out
    on_server = [o["merchantOutboundNumber"] for o in ffn_fake.server.api.outbounds.collection]
    assert on_server == numbers[1:]  # the dropped one was never sent
    assert "is empty" in (await run_cli("outbox", "list")).out


async def test_replay_of_a_dead_login_exits_3_and_keeps_everything(
    logged_in: TokenManager, ffn_fake: RunningFake, store_url: str, cli_env: dict[str, str], run_cli
) -> None:
    await _keep_three(ffn_fake, store_url, cli_env["FFN_ACCOUNT"])
    ffn_fake.server.oauth.revoke_all()
    store = await open_store(store_url)
    auth = TokenManager(
        ffn_fake.credentials,
        store,
        key=cli_env["FFN_ACCOUNT"],
        environment=ffn_fake.environment,
        request_timeout=0.5,
    )
    try:  # the first worker to meet invalid_grant marks the login dead in the store
        with pytest.raises(ReauthorizationRequired):
            await auth.refresh()
    finally:
        await auth.aclose()
        await store.close()
    result = await run_cli("outbox", "replay")
    assert result.code == 3
    assert "0 sent, 0 refused, 0 set aside, 3 waiting" in result.out


async def test_replay_prints_the_refusal_and_retry_puts_the_entry_back(
    logged_in: TokenManager, ffn_fake: RunningFake, store_url: str, cli_env: dict[str, str], run_cli
) -> None:
    """``refused outbound R-1: None`` before: the reason was in the store, not in the output."""
    fake = ffn_fake.server
    account = cli_env["FFN_ACCOUNT"]
    jfsku = fake.api.add_product("CLI-SKU", "Part")["jfsku"]
    refused = attrs.evolve(
        builders.outbound("R-1", fake.api.default_warehouse_id, jfsku),
        shipping_method_id="SM-UNKNOWN", shipping_type="Standard",  # FFN takes one or the other
    )  # fmt: skip
    store = await open_store(store_url)
    auth = TokenManager(fake.credentials, store, key=account, environment=ffn_fake.environment)
    try:
        async with FFNClient(auth, retry=FAST) as ffn:
            fake.faults.unavailable = 1.0
            assert isinstance(
                await Outbox(store, account).submit(ffn, creates.OUTBOUND, refused), Kept
            )
            fake.faults.clear()
    finally:
        await store.close()

    replayed = await run_cli("outbox", "replay")
    assert replayed.code == 1
    assert "refused outbound R-1: BadRequest: 400" in replayed.out
    assert "Outbounds_OutboundShippingMethodAndShippingTypeSet" in replayed.out
    rows = orjson.loads((await run_cli("outbox", "list", "--json")).out)
    assert [(r["number"], r["state"]) for r in rows] == [("R-1", "failed")]
    assert "ShippingMethodAndShippingType" in rows[0]["last_error"]

    retried = await run_cli("outbox", "retry", str(rows[0]["id"]))
    assert retried.code == 0, retried.err
    rows = orjson.loads((await run_cli("outbox", "list", "--json")).out)
    assert [(r["number"], r["state"], r["attempts"]) for r in rows] == [("R-1", "waiting", 0)]
    assert (await run_cli("outbox", "retry", "999")).code == 2
