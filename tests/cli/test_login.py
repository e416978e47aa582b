"""`ffn-async login` end to end: the test plays the browser."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import orjson
import pytest

from ffn_async import cli
from ffn_async.testing.pytest_plugin import RunningFake

from .conftest import Result, one_line_error


async def _start_login(
    capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[asyncio.Task[int], str, list[str]]:
    """Start the login in a thread and return it with the authorize URL it printed."""
    capsys.readouterr()
    task = asyncio.ensure_future(asyncio.to_thread(cli.main, ["login", "--no-browser", *extra]))
    seen: list[str] = []
    for _ in range(200):
        seen.append(capsys.readouterr().out)
        match = re.search(r"^\s+(http://\S+/authorize\?\S+)$", "".join(seen), re.M)
        if match:
            return task, match.group(1), seen
        await asyncio.sleep(0.02)
    raise AssertionError("login printed no URL: " + "".join(seen) + capsys.readouterr().err)


async def test_login_follows_the_redirect_and_stores_the_token(
    ffn_fake: RunningFake, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], run_cli
) -> None:
    task, url, seen = await _start_login(capsys)
    assert (
        f"redirect_uri={cli_env['FFN_REDIRECT_URI'].replace(':', '%3A').replace('/', '%2F')}" in url
        or "redirect_uri=" in url
    )
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        # The fake approves at once and redirects to the command's local server.
        assert page.status == 200
        assert "Logged in" in await page.text()
        assert page.url.port == int(cli_env["FFN_REDIRECT_URI"].rsplit(":", 1)[1].split("/")[0])
    assert await task == 0
    out = "".join(seen) + capsys.readouterr().out
    assert "Logged in: account 'acme'" in out
    assert ffn_fake.stats.code_exchanges == 1

    status = await run_cli("token", "status", "--json")
    assert status.code == 0
    info = orjson.loads(status.out)
    assert info["rotation"] == 0
    assert info["version"] == 1
    assert "ffn.merchant.read" in info["scopes"]


async def test_login_rejects_a_forged_state(
    ffn_fake: RunningFake, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    task, url, _ = await _start_login(capsys)
    callback = cli_env["FFN_REDIRECT_URI"]
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(callback, params={"code": "stolen", "state": "forged"}) as page,
    ):
        assert page.status == 400
        assert "Login failed" in await page.text()
    code = await task
    result = Result(code, "", capsys.readouterr().err)
    assert code == 1
    assert "state" in one_line_error(result)
    assert ffn_fake.stats.code_exchanges == 0


async def test_login_times_out_with_a_clear_message(cli_env: dict[str, str], run_cli) -> None:
    result = await run_cli("login", "--no-browser", "--timeout", "0.2")
    assert result.code == 1
    assert "no authorization redirect reached" in one_line_error(result)


async def test_login_needs_a_loopback_redirect_uri(cli_env: dict[str, str], run_cli) -> None:
    result = await run_cli("login", "--no-browser", "--redirect-uri", "https://example.com/cb")
    assert result.code == 2
    assert "not on this machine" in one_line_error(result)
