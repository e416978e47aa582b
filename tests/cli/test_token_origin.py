"""``token status`` says where the stored token came from, not only what is configured.

Before 0.2.0 the record did not hold it: a token from the fake server showed as "environment
production" once the fake's URLs were no longer set. Now the token request records the
environment it was issued for (:class:`~ffn_async.token.TokenOrigin`), old records read as
unknown.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from ffn_async.cli.config import open_store
from ffn_async.testing.pytest_plugin import RunningFake

from .test_login import _start_login

OLD = "unknown (saved by 0.1.0 or stored by hand)"


def _fake_origin(ffn_fake: RunningFake) -> str:
    return f"custom ({ffn_fake.environment.api_url})"


async def test_status_after_a_login_against_the_fake_names_the_fake(
    ffn_fake: RunningFake,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    run_cli,
) -> None:
    task, url, _ = await _start_login(capsys)
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        assert page.status == 200
    assert await task == 0

    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    assert status["issued_for"] == _fake_origin(ffn_fake)
    # The trap: without the fake's URLs the configured environment is production's default;
    # the token still says where it belongs.
    for name in ("FFN_API_URL", "FFN_AUTHORIZE_URL", "FFN_TOKEN_URL"):
        monkeypatch.delenv(name)
    result = await run_cli("token", "status")
    assert result.code == 0, result.err
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in result.out.splitlines()]
    rows = dict(c for c in cells if len(c) == 2)
    assert rows["environment"] == "production"
    assert rows["issued for"] == _fake_origin(ffn_fake)


async def test_a_record_saved_by_0_1_0_shows_an_unknown_origin(
    ffn_fake: RunningFake, cli_env: dict[str, str], store_url: str, run_cli
) -> None:
    token = ffn_fake.server.token()
    old = {  # the 0.1.0 record, byte for byte in its keys: no "issued_for"
        "format": 1,
        "token": {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "token_type": "Bearer",
            "scopes": list(token.scopes or ()),
            "issued_at": token.issued_at,
        },
        "rotation": 0,
        "reauthorization_required": None,
        "rotating": None,
        "after_unauthorized": False,
        "saved_at": time.time(),
    }
    store = await open_store(store_url)
    try:
        await store.save(cli_env["FFN_ACCOUNT"], orjson.dumps(old), None)
    finally:
        await store.close()
    result = await run_cli("token", "status", "--json")
    assert result.code == 0, result.err
    assert orjson.loads(result.out)["issued_for"] == OLD
    # The old record still works: a refresh reads it and writes the origin in.
    assert (await run_cli("token", "refresh")).code == 0
    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    assert status["issued_for"] == _fake_origin(ffn_fake)


async def test_an_imported_token_names_the_fake(
    ffn_fake: RunningFake, cli_env: dict[str, str], tmp_path: Path, run_cli
) -> None:
    token_file = tmp_path / "rt.txt"
    token_file.write_text(ffn_fake.server.token().refresh_token or "")
    assert (await run_cli("token", "import", "--file", str(token_file))).code == 0
    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    assert status["issued_for"] == _fake_origin(ffn_fake)
