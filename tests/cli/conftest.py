"""Run ``ffn-async`` in-process against the fake FFN server.

``cli.main`` calls ``asyncio.run``, so it runs in a worker thread while the fake keeps serving
in the test's event loop; stdout and stderr are captured with ``capsys``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from ffn_async import TokenManager, cli
from ffn_async.cli.config import open_store
from ffn_async.testing.pytest_plugin import RunningFake
from tests.helpers import fake_variables, set_variables


@attrs.frozen
class Result:
    code: int
    out: str
    err: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ffn_fake_options() -> dict[str, Any]:
    # Any loopback redirect URI is accepted, so each test can listen on its own free port.
    return {"redirect_uri": None}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, ffn_fake: RunningFake, store_url: str
) -> Iterator[dict[str, str]]:
    """FFN_* variables pointing the command at the fake and a fresh store."""
    values = fake_variables(
        ffn_fake,
        FFN_REDIRECT_URI=f"http://127.0.0.1:{free_port()}/callback",
        FFN_ACCOUNT="acme",
        FFN_TOKEN_STORE=store_url,
    )
    return set_variables(monkeypatch, values)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Any:
    async def run(*argv: str) -> Result:
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
async def logged_in(ffn_fake: RunningFake, cli_env: dict[str, str], store_url: str) -> TokenManager:
    """Store a fresh login for the account, as `ffn-async login` would."""
    store = await open_store(store_url)
    auth = TokenManager(
        ffn_fake.credentials, store, key=cli_env["FFN_ACCOUNT"], environment=ffn_fake.environment
    )
    await auth.store_token(ffn_fake.server.token())
    await store.close()
    return auth


def one_line_error(result: Result) -> str:
    """The error line, asserting it is one line, the last on stderr, with no traceback."""
    lines = result.err.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("ffn-async: error: "), result.err
    assert "Traceback" not in result.err
    assert sum("error" in line for line in lines) == 1, result.err
    return lines[-1]
