"""What a new user meets in the first hour (issue 13): each trap has a test here."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from ffn_async import TokenManager
from ffn_async.cli.config import DEFAULT_REDIRECT_URI, open_store
from ffn_async.testing import Faults
from ffn_async.testing.pytest_plugin import RunningFake
from ffn_async.testing.standalone import build_parser as fake_parser

from .. import services
from ..helpers import spawn_cli
from .conftest import Result, free_port, one_line_error
from .test_login import _start_login


async def _cli_process(*argv: str, env: dict[str, str] | None = None) -> Result:
    """`ffn-async ...` in a child process (its own logging setup, pipes for stdout/stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ffn_async.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


# ------------------------------------------------------------------ 1. an encrypted store


@pytest.fixture
def key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


async def test_encrypted_store_from_a_key_variable(
    ffn_fake: RunningFake, cli_env: dict[str, str], store_url: str, key: str, monkeypatch, run_cli
) -> None:
    monkeypatch.setenv("FFN_TOKEN_KEY", key)
    store = await open_store(store_url, (key,))
    auth = TokenManager(ffn_fake.credentials, store, key="acme", environment=ffn_fake.environment)
    token = ffn_fake.server.token()
    await auth.store_token(token)
    await store.close()
    assert token.refresh_token is not None
    raw = sqlite3.connect(store_url.removeprefix("sqlite+aiosqlite:///")).execute(
        "select data from " + "ffn_tokens"
    )
    assert all(token.refresh_token.encode() not in bytes(row[0]) for row in raw)

    status = await run_cli("token", "status", "--json")
    assert status.code == 0, status.err
    assert orjson.loads(status.out)["encrypted"] is True
    assert (await run_cli("whoami")).code == 0

    # Without the key: one line naming the variables, not a "corrupt record".
    monkeypatch.delenv("FFN_TOKEN_KEY")
    result = await run_cli("token", "status")
    assert result.code == 2
    assert "FFN_TOKEN_KEY" in one_line_error(result)


async def test_encrypted_store_from_a_key_file(
    logged_in: TokenManager, tmp_path: Path, key: str, run_cli
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    # The store holds a plain login: with a key, status says how to get out of it.
    result = await run_cli("token", "status", "--token-key-file", str(key_file))
    assert result.code == 1
    assert "unencrypted" in one_line_error(result)
    login_force = await run_cli("login", "--token-key-file", str(key_file), "--timeout", "0.1")
    assert "login --force" in login_force.err
    assert (await run_cli("token", "status", "--json")).code == 0  # untouched

    plain = orjson.loads((await run_cli("token", "status", "--json")).out)
    assert plain["encrypted"] is False
    missing = await run_cli("token", "status", "--token-key-file", str(tmp_path / "nope"))
    assert missing.code == 2
    assert "token key file" in one_line_error(missing)


async def test_new_key_is_a_fernet_key(run_cli, key: str) -> None:
    result = await run_cli("token", "new-key")
    assert result.code == 0
    assert len(result.out.strip()) == len(key)


# ------------------------------------------------------------------ 3. fake-server + login


def test_fake_server_default_redirect_uri_is_the_one_login_uses() -> None:
    assert fake_parser().parse_args([]).redirect_uri == DEFAULT_REDIRECT_URI


async def test_fake_server_banner_exports_are_all_login_needs(tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FFN_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    fake = await spawn_cli("fake-server", "--port", "0", "--redirect-uri", redirect, env=env)
    try:
        assert fake.stdout is not None
        banner = ""
        while "FFN_REDIRECT_URI" not in banner:
            banner += (await asyncio.wait_for(fake.stdout.readline(), 20)).decode()
        for line in banner.splitlines():
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
        assert env["FFN_REDIRECT_URI"] == redirect
        login = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ffn_async.cli",
            "login",
            "--no-browser",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert login.stdout is not None
        url = ""
        while "/authorize?" not in url:
            url = (await asyncio.wait_for(login.stdout.readline(), 20)).decode().strip()
        async with aiohttp.ClientSession() as browser, browser.get(url) as page:
            assert "Logged in" in await page.text()
        out, err = await asyncio.wait_for(login.communicate(), 20)
        assert login.returncode == 0, err
        assert b"Logged in: account 'fake'" in out
        whoami = await _cli_process("whoami", env=env)
        assert (whoami.code, whoami.out.strip()) == (0, "MERC (Merchant) on custom")
    finally:
        fake.terminate()
        await fake.wait()


# ------------------------------------------------------------------ 4. corrupt record, logout


async def _corrupt(store_url: str) -> None:
    store = await open_store(store_url)
    record = await store.load("acme")
    await store.save("acme", b"{truncated", record.version if record else None)
    await store.close()


async def test_login_reports_a_corrupt_record_before_the_browser(
    logged_in: TokenManager, store_url: str, run_cli
) -> None:
    await _corrupt(store_url)
    result = await run_cli("login", "--no-browser")
    assert result.code == 1
    assert "authorize" not in result.out  # nobody was sent to a browser
    line = one_line_error(result)
    assert "ffn-async logout" in line
    assert "--force" in line


async def test_login_force_replaces_a_corrupt_record(
    ffn_fake: RunningFake,
    logged_in: TokenManager,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    run_cli,
) -> None:
    await _corrupt(store_url)
    task, url, _ = await _start_login(capsys, "--force")
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        assert page.status == 200
    assert await task == 0
    assert (await run_cli("token", "status")).code == 0


async def test_logout_and_token_delete(logged_in: TokenManager, store_url: str, run_cli) -> None:
    await _corrupt(store_url)  # an unreadable record can be deleted too
    result = await run_cli("logout", "--json")
    assert result.code == 0, result.err
    assert orjson.loads(result.out)["deleted"] is True
    assert (await run_cli("token", "status")).code == 3
    again = await run_cli("token", "delete")
    assert (again.code, again.out.strip()) == (
        0,
        "No token stored for account 'acme'; nothing to delete.",
    )


# ------------------------------------------------------------------ 5. library logs


def test_the_library_prints_nothing_by_itself() -> None:
    code = (
        "import logging, ffn_async, token_stores\n"
        "logging.getLogger('ffn_async.client').warning('attempt 1, retrying')\n"
        "logging.getLogger('token_stores.redis').error('store down')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stderr == ""


@pytest.mark.ffn_fake(faults=Faults(unavailable=1.0, seed=1))
async def test_cli_errors_are_one_line_and_logs_only_with_verbose(
    logged_in: TokenManager, cli_env: dict[str, str]
) -> None:
    quiet = await _cli_process("api", "GET", "/v1/users/current")
    assert quiet.code == 1
    assert len(quiet.err.strip().splitlines()) == 1, quiet.err
    assert quiet.err.startswith("ffn-async: error: 503")

    verbose = await _cli_process("-v", "api", "GET", "/v1/users/current")
    assert verbose.code == 1
    lines = verbose.err.strip().splitlines()
    assert any("retrying" in line for line in lines), verbose.err
    assert sum(line.startswith("ffn-async: error:") for line in lines) == 1


# ------------------------------------------------------------------ 6. store URLs


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("postgresql://app:hunter2@db/app", "postgresql+asyncpg://app:***@db/app"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("mysql://root@db/app", "mysql+asyncmy://root@db/app"),
    ],
)
async def test_store_url_did_you_mean(cli_env, url: str, suggestion: str, run_cli) -> None:
    result = await run_cli("--store", url, "whoami")
    assert result.code == 2
    line = one_line_error(result)
    assert f"did you mean {suggestion}" in line
    assert "hunter2" not in line


async def test_token_status_creates_no_directory(tmp_path: Path, monkeypatch, run_cli) -> None:
    for name in [n for n in os.environ if n.startswith("FFN_")]:
        monkeypatch.delenv(name)
    missing = tmp_path / "nonexistent" / "dir"
    for url in (f"sqlite+aiosqlite:///{missing / 'x.db'}", missing.as_uri()):
        result = await run_cli("token", "status", "--store", url)
        assert result.code == 3
        assert "ffn-async login" in one_line_error(result)
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.services
async def test_wrong_database_login_is_not_blamed_on_the_schema(cli_env, run_cli) -> None:
    base = services.postgres_url()  # postgresql+asyncpg://postgres@127.0.0.1:5432/test
    wrong = base.replace("://postgres@", "://ffn_no_such_role@", 1)
    result = await run_cli("--store", wrong, "login", "--no-browser", "--timeout", "0.1")
    assert result.code == 1
    line = one_line_error(result)
    assert "user name and password" in line
    assert "create_schema" not in line


# ------------------------------------------------------------------ 7. demo arguments


@pytest.mark.parametrize(
    "argv",
    [
        ("--orders", "-5"),
        ("--orders", "0"),
        ("--concurrency", "0"),
        ("--token-lifetime", "0"),
        ("--token-lifetime", "nan"),
        ("--orders", "many"),
    ],
)
async def test_demo_rejects_bad_values_as_usage_errors(argv: tuple[str, str], run_cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        await run_cli("demo", *argv)
    assert exit_info.value.code == 2


async def test_demo_output_is_clean_when_piped() -> None:
    result = await _cli_process("demo", "--orders", "30", "--concurrency", "10")
    assert result.code == 0, result.err
    for text in (result.out, result.err):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)
    as_json = await _cli_process("demo", "--orders", "30", "--concurrency", "10", "--json")
    assert orjson.loads(as_json.out)["lost"] == 0


# ------------------------------------------------------------------ 10. conventions


async def test_version_prints_it() -> None:
    from ffn_async import __version__

    result = await _cli_process("--version")
    assert (result.code, result.out.strip()) == (0, f"ffn-async {__version__}")


async def test_token_status_needs_no_client_id(
    logged_in: TokenManager, monkeypatch, run_cli
) -> None:
    monkeypatch.delenv("FFN_CLIENT_ID")
    monkeypatch.delenv("FFN_CLIENT_SECRET")
    result = await run_cli("token", "status", "--json")
    assert result.code == 0, result.err
    assert orjson.loads(result.out)["account"] == "acme"


async def test_api_accepts_only_http_methods(logged_in: TokenManager, run_cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        await run_cli("api", "FETCH", "/v1/users/current")
    assert exit_info.value.code == 2
    assert (await run_cli("api", "get", "/v1/users/current")).code == 0


async def test_odata_param_without_dollar_gets_a_hint(
    ffn_fake: RunningFake, logged_in: TokenManager, run_cli
) -> None:
    result = await run_cli("api", "GET", "/v1/merchant/outbounds", "--param", "top=5")
    assert result.code == 2
    assert "--param '$top=5'" in one_line_error(result)
    assert ffn_fake.stats.api_requests == 0  # nothing was sent


async def test_messages_name_the_variable(ffn_fake: RunningFake, cli_env, monkeypatch, run_cli):
    monkeypatch.setenv("FFN_TOKEN_URL", "not-a-url")
    result = await run_cli("whoami")
    assert result.code == 2
    assert "FFN_TOKEN_URL" in one_line_error(result)

    # A token URL that answers with something else than a token (here: the API's 404 page).
    monkeypatch.setenv("FFN_TOKEN_URL", cli_env["FFN_AUTHORIZE_URL"])
    store = await open_store(cli_env["FFN_TOKEN_STORE"])
    auth = TokenManager(ffn_fake.credentials, store, key="acme", environment=ffn_fake.environment)
    await auth.store_token(ffn_fake.server.token())
    await store.close()
    result = await run_cli("token", "refresh")
    assert result.code == 1
    line = one_line_error(result)
    assert "check FFN_TOKEN_URL" in line
    assert "Environment." not in line


async def test_wrong_client_secret_names_the_variables(
    logged_in: TokenManager, monkeypatch, run_cli
) -> None:
    monkeypatch.setenv("FFN_CLIENT_SECRET", "wrong")
    result = await run_cli("token", "refresh")
    assert result.code == 1
    line = one_line_error(result)
    assert "FFN_CLIENT_ID and FFN_CLIENT_SECRET" in line
    assert "ClientCredentials" not in line


async def test_login_json_keeps_stdout_for_the_result(
    ffn_fake: RunningFake, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    from ffn_async import cli

    task = asyncio.ensure_future(asyncio.to_thread(cli.main, ["login", "--no-browser", "--json"]))
    url = None
    err = ""
    for _ in range(200):
        err += capsys.readouterr().err
        match = re.search(r"^\s+(http://\S+/authorize\?\S+)$", err, re.M)
        if match:
            url = match.group(1)
            break
        await asyncio.sleep(0.02)
    assert url is not None, err
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        assert page.status == 200
    assert await task == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result["account"] == "acme"


async def test_redirect_catcher_port_0_picks_a_free_port_not_80() -> None:
    from ffn_async.cli.login import RedirectCatcher

    with socket.socket() as busy_80_or_not:
        try:  # make port 80 unusable, as a web server on the machine would
            busy_80_or_not.bind(("127.0.0.1", 80))
            busy_80_or_not.listen()
        except OSError:
            pass  # not root, or something already listens there: just as good
        async with RedirectCatcher("http://127.0.0.1:0/callback") as catcher:
            port = int(catcher.redirect_uri.split(":")[2].split("/")[0])
    assert port not in (0, 80)
