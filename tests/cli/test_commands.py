"""Each `ffn-async` command: the happy path and a failure path, in-process against the fake."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import attrs
import orjson
import pytest

from ffn_async import TokenManager
from ffn_async.cli.config import open_store
from ffn_async.testing.pytest_plugin import RunningFake
from tests.helpers import spawn_cli

from .conftest import one_line_error


async def test_help_documents_commands_variables_and_exit_codes(run_cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        await run_cli("--help")
    assert exit_info.value.code == 0


async def test_whoami(logged_in: TokenManager, run_cli) -> None:
    result = await run_cli("whoami")
    assert result.code == 0, result.err
    assert result.out.strip() == "MERC (Merchant) on custom"
    as_json = await run_cli("whoami", "--json")
    assert orjson.loads(as_json.out)["user_id"] == "MERC"


async def test_whoami_without_login_asks_for_one(cli_env: dict[str, str], run_cli) -> None:
    result = await run_cli("whoami")
    assert result.code == 3
    assert "ffn-async login" in one_line_error(result)
    assert result.out == ""


async def test_token_status_hides_secrets_unless_asked(
    logged_in: TokenManager, store_url: str, run_cli
) -> None:
    store = await open_store(store_url)
    token = (await TokenManager(logged_in.credentials, store, key="acme").stored()).token
    await store.close()
    assert token is not None
    assert token.refresh_token

    table = await run_cli("token", "status")
    assert table.code == 0, table.err
    as_json = await run_cli("token", "status", "--json")
    for output in (table.out, as_json.out):
        assert token.access_token not in output
        assert token.refresh_token not in output
    assert "rotation" in table.out
    assert "expires at" in table.out
    assert "sqlite+aiosqlite" in table.out
    info = orjson.loads(as_json.out)
    assert info["access_token"] == f"<{token.fingerprint}>"
    assert info["refresh_token"] == "<redacted>"
    assert info["reauthorization_required"] is None

    shown = await run_cli("token", "status", "--json", "--show-secrets")
    secrets = orjson.loads(shown.out)
    assert (secrets["access_token"], secrets["refresh_token"]) == (
        token.access_token,
        token.refresh_token,
    )


async def test_token_status_without_login(cli_env: dict[str, str], run_cli) -> None:
    result = await run_cli("token", "status")
    assert result.code == 3
    assert "no token" in one_line_error(result).lower() or "login" in result.err


async def test_token_refresh_rotates(
    ffn_fake: RunningFake, logged_in: TokenManager, run_cli
) -> None:
    result = await run_cli("token", "refresh")
    assert result.code == 0, result.err
    assert "rotation 1" in result.out
    assert ffn_fake.stats.refreshes == 1
    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    # version 1 the login, 2 the rotation's in-flight mark, 3 its fence, 4 the rotated token
    assert (status["rotation"], status["version"]) == (1, 4)


async def test_token_refresh_of_a_dead_login_needs_reauthorization(
    ffn_fake: RunningFake, logged_in: TokenManager, store_url: str, run_cli
) -> None:
    # A login whose refresh token is gone (revocation takes a lease timeout to be sure).
    store = await open_store(store_url)
    auth = TokenManager(logged_in.credentials, store, key="acme")
    await auth.store_token(attrs.evolve(ffn_fake.server.token(), refresh_token=None))
    await store.close()
    result = await run_cli("token", "refresh")
    assert result.code == 3
    assert "needs a new login" in one_line_error(result)
    status = await run_cli("token", "status", "--json")
    assert status.code == 3
    assert orjson.loads(status.out)["reauthorization_required"]
    assert ffn_fake.stats.reuse_attempts == 0


async def test_api_get_with_params_and_post_with_data(
    ffn_fake: RunningFake, logged_in: TokenManager, run_cli
) -> None:
    body = orjson.dumps({"merchantSku": "SKU-1", "name": "Widget"}).decode()
    created = await run_cli("api", "POST", "/v1/merchant/products", "--data", body)
    assert created.code == 0, created.err
    assert orjson.loads(created.out)["merchantSku"] == "SKU-1"
    assert created.out.startswith("{\n  ")  # pretty-printed

    listed = await run_cli(
        "api", "get", "/api/v1/merchant/products", "--param", "$filter=merchantSku eq 'SKU-1'"
    )
    assert listed.code == 0, listed.err
    page = orjson.loads(listed.out)
    assert [p["merchantSku"] for p in page["items"]] == ["SKU-1"]


async def test_api_unknown_path_is_a_one_line_404(logged_in: TokenManager, run_cli) -> None:
    result = await run_cli("api", "GET", "/v1/merchant/nothing-here")
    assert result.code == 1
    assert "404" in one_line_error(result)
    assert result.out == ""


async def test_an_api_error_echoing_the_token_shows_it_redacted(
    ffn_fake: RunningFake, cli_env: dict[str, str], store_url: str, run_cli
) -> None:
    store = await open_store(store_url)
    token = ffn_fake.server.token()
    auth = TokenManager(ffn_fake.credentials, store, key="acme", environment=ffn_fake.environment)
    await auth.store_token(token)
    await store.close()
    secret = token.access_token
    for flags in ((), ("-v",), ("--debug",)):  # the error line, the library log, a traceback
        ffn_fake.server.faults.inject_next("echo")
        result = await run_cli(*flags, "api", "GET", "/v1/users/current")
        assert result.code == 1, result.err
        assert "Shared_Echo" in result.err
        assert "<redacted>" in result.err
        shown = [secret[i : i + 8] for i in range(len(secret) - 7)]
        assert not [piece for piece in shown if piece in result.err + result.out], flags


async def test_api_bad_arguments_are_usage_errors(logged_in: TokenManager, run_cli) -> None:
    result = await run_cli("api", "POST", "/v1/merchant/products", "--data", "{not json")
    assert result.code == 2
    assert "not valid JSON" in one_line_error(result)
    result = await run_cli("api", "GET", "/v1/users/current", "--param", "novalue")
    assert result.code == 2
    assert "key=value" in one_line_error(result)


async def test_configuration_errors_exit_2(cli_env: dict[str, str], monkeypatch, run_cli) -> None:
    monkeypatch.delenv("FFN_CLIENT_ID")
    result = await run_cli("whoami")
    assert result.code == 2
    assert "FFN_CLIENT_ID" in one_line_error(result)

    monkeypatch.setenv("FFN_CLIENT_ID", "x")
    result = await run_cli("--store", "ftp://nowhere", "whoami")
    assert result.code == 2
    assert "unsupported token store URL scheme" in one_line_error(result)

    monkeypatch.delenv("FFN_TOKEN_URL")
    result = await run_cli("whoami")
    assert result.code == 2
    assert "FFN_TOKEN_URL" in one_line_error(result)


async def test_client_secret_never_printed_even_with_debug(
    ffn_fake: RunningFake, logged_in: TokenManager, run_cli
) -> None:
    result = await run_cli("--debug", "token", "refresh")
    assert result.code == 0
    assert ffn_fake.credentials.client_secret not in result.out + result.err


async def test_fake_server_serves_until_stopped() -> None:
    process = await spawn_cli("fake-server", "--port", "0")
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        api_url = line.split("api ", 1)[1].strip()
        base = api_url.removesuffix("/api")
        async with aiohttp.ClientSession() as http, http.get(f"{base}/_fake/stats") as resp:
            assert resp.status == 200
            assert (await resp.json())["reuse_attempts"] == 0
    finally:
        process.terminate()
        await process.wait()


async def test_fake_server_on_a_busy_port_is_a_one_line_error(run_cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = await run_cli("fake-server", "--port", str(busy.getsockname()[1]))
    assert result.code == 1
    assert "cannot serve on 127.0.0.1" in one_line_error(result)
