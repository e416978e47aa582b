"""Logging in where there is no browser: ``login --paste`` and ``token import``.

The README's "Logging in on a server" block runs as written, command by command, as
subprocesses against the fake server; the test plays the person with the browser.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from ffn_async.cli.login import read_pasted
from ffn_async.errors import AuthError
from ffn_async.testing.pytest_plugin import RunningFake
from tests.helpers import readme_block

from .conftest import one_line_error

BIN = str(Path(sys.executable).parent)


def section_commands() -> list[str]:
    block = readme_block("Logging in on a server", "bash")
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


async def approve(url: str) -> str:
    """What the person does in the browser: open ``url``, approve, read the address bar."""
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(url, allow_redirects=False) as answer,
    ):
        assert answer.status == 302
        return answer.headers["Location"]


async def paste_login(
    env: dict[str, str], cwd: Path, *, paste: str | None = None
) -> tuple[int, str, str]:
    """``ffn-async login --paste`` as a subprocess; the approved redirect (or ``paste``) is
    written to its stdin once it printed the URL."""
    proc = await asyncio.create_subprocess_shell(
        "ffn-async login --paste",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, "the command ended before printing the URL"
        lines.append(line)
        if "/authorize?" in line:
            break
    redirected = await approve(line.strip())
    proc.stdin.write(((paste if paste is not None else redirected) + "\n").encode())
    await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, "".join(lines) + out.decode(), err.decode()


@pytest.fixture
def shell_env(cli_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **cli_env, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    env.pop("FFN_REFRESH_TOKEN", None)
    return env


async def test_the_readme_section_runs_as_written(
    ffn_fake: RunningFake, shell_env: dict[str, str], tmp_path: Path
) -> None:
    commands = section_commands()
    assert commands[0] == "ffn-async login --paste"
    fake = ffn_fake.server
    (tmp_path / "refresh-token.txt").write_text(fake.token().refresh_token or "")
    env = {**shell_env, "FFN_REFRESH_TOKEN": fake.token().refresh_token or ""}
    for command in commands:
        if command == "ffn-async login --paste":
            code, out, err = await paste_login(env, tmp_path)
            assert "Logged in: account 'acme'" in out, err
        else:
            proc = await asyncio.create_subprocess_shell(
                command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out_b, err_b = await asyncio.wait_for(proc.communicate(), 60)
            code, out, err = proc.returncode or 0, out_b.decode(), err_b.decode()
        assert code == 0, f"{command}: {err}"
    assert "MERC" in out  # whoami, last
    assert fake.stats.code_exchanges == 1
    assert fake.stats.reuse_attempts == 0


async def test_a_pasted_address_with_another_state_is_refused(
    ffn_fake: RunningFake, shell_env: dict[str, str], tmp_path: Path
) -> None:
    forged = "http://127.0.0.1:1/callback?code=stolen&state=forged"
    code, _, err = await paste_login(shell_env, tmp_path, paste=forged)
    assert code == 1
    assert "state" in err.strip().splitlines()[-1]
    assert ffn_fake.stats.code_exchanges == 0


async def test_a_bare_code_is_accepted(
    ffn_fake: RunningFake, shell_env: dict[str, str], tmp_path: Path
) -> None:
    proc = await asyncio.create_subprocess_shell(
        "ffn-async login --paste --json", cwd=tmp_path, env=shell_env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    assert proc.stdin is not None
    while True:  # with --json the URL goes to stderr, stdout holds only the result
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line
        if "/authorize?" in line:
            break
    redirected = await approve(line.strip())
    code_only = re.search(r"[?&]code=([^&]+)", redirected)
    assert code_only is not None
    proc.stdin.write(code_only.group(1).encode() + b"\n")
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert orjson.loads(out)["account"] == "acme"
    assert ffn_fake.stats.code_exchanges == 1


async def test_token_import_refuses_a_spent_refresh_token(
    ffn_fake: RunningFake, cli_env: dict[str, str], tmp_path: Path, run_cli
) -> None:
    token_file = tmp_path / "rt.txt"
    token_file.write_text(ffn_fake.server.token().refresh_token or "")
    first = await run_cli("token", "import", "--file", str(token_file), "--json")
    assert first.code == 0, first.err
    assert orjson.loads(first.out)["rotation"] == 1  # refreshed once: validated
    again = await run_cli("token", "import", "--file", str(token_file))
    assert again.code == 3  # the same secret a second time: reuse, a new login is needed
    assert "login" in one_line_error(again)


async def test_token_import_wants_one_token(
    ffn_fake: RunningFake, cli_env: dict[str, str], tmp_path: Path, run_cli
) -> None:
    token_file = tmp_path / "rt.txt"
    token_file.write_text("secret-aaa\nsecret-bbb\n")
    result = await run_cli("token", "import", "--file", str(token_file))
    assert result.code == 2
    assert "expected one refresh token" in one_line_error(result)
    assert "secret-" not in result.err  # the file's text is not echoed


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("http://127.0.0.1:8765/callback?code=abc&state=xyz\n", ("abc", "xyz")),
        ("  code=abc&state=xyz ", ("abc", "xyz")),
        ("?code=abc", ("abc", "")),
        ("abc.DEF-123", ("abc.DEF-123", None)),
    ],
)
def test_read_pasted(pasted: str, expected: tuple[str, str | None]) -> None:
    assert read_pasted(pasted) == expected


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "nothing was pasted"),
        ("http://127.0.0.1/callback?error=access_denied", "refused the login: access_denied"),
        ("http://127.0.0.1/callback?state=x", "no code"),
        ("two words", "not an authorization code"),
    ],
)
def test_read_pasted_refuses(pasted: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        read_pasted(pasted)
