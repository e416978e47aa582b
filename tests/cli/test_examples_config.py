"""The examples use the command's settings: no FFN_TOKEN_STORE needed, bad input is a 400."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ffn_async import TokenManager
from ffn_async.cli.config import data_dir, default_store_url, open_store
from ffn_async.testing.pytest_plugin import RunningFake
from tests.helpers import EXAMPLES, examples_importable, fake_variables, set_variables


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with examples_importable(monkeypatch, "web_service", "ffn_env"):
        yield


@pytest.fixture
def default_env(
    monkeypatch: pytest.MonkeyPatch, ffn_fake: RunningFake, tmp_path: Path
) -> dict[str, str]:
    """The variables `ffn-async login` needs, and no FFN_TOKEN_STORE: the default store."""
    values = set_variables(monkeypatch, fake_variables(ffn_fake))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return values


@pytest.fixture
async def web_base(
    examples_path: None, ffn_fake: RunningFake, default_env: dict[str, str]
) -> AsyncIterator[str]:
    store = await open_store(default_store_url(data_dir()))
    auth = TokenManager(
        ffn_fake.credentials, store, key="default", environment=ffn_fake.environment
    )
    await auth.store_token(ffn_fake.server.token())  # as `ffn-async login` would
    await store.close()
    web_service = importlib.import_module("web_service")
    runner = web.AppRunner(web_service.create_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_web_service_uses_the_commands_default_store(web_base: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{web_base}/me") as resp:
        assert resp.status == 200
        assert (await resp.json())["userId"] == "MERC"


@pytest.mark.parametrize("top", ["abc", "-1", "0", "100000"])
async def test_web_service_bad_top_is_a_400(web_base: str, top: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{web_base}/outbounds?top={top}") as r:
        assert r.status == 400
        assert "top must be" in (await r.json())["error"]


async def test_example_without_client_id_names_the_variable(
    examples_path: None, default_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FFN_CLIENT_ID")
    ffn_env = importlib.import_module("ffn_env")
    with pytest.raises(SystemExit, match="FFN_CLIENT_ID"):
        await ffn_env.open_account()


def test_web_service_and_fake_server_default_to_different_ports(examples_path: None) -> None:
    from ffn_async.testing.standalone import build_parser

    fake_server_port = build_parser().get_default("port")
    web_service_port = importlib.import_module("web_service").DEFAULT_PORT
    assert web_service_port != fake_server_port


def test_web_service_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    """Started beside a server on its port: one line naming the port, not a traceback."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "FFN_CLIENT_ID": "app",
        "FFN_CLIENT_SECRET": "secret",
        "FFN_ENVIRONMENT": "sandbox",  # nothing is sent: the bind fails first
    }
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "web_service.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
