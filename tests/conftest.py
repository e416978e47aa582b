"""Fixtures shared by every test package."""

from __future__ import annotations

import base64
import itertools
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import BaseTestServer

import ffn_async.retry as retry_module
from ffn_async import ClientCredentials, Environment

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tools") not in sys.path:  # the generators, for tests/tools and tests/models
    sys.path.insert(0, str(REPO / "tools"))

_counter = itertools.count()

TEST_ENV = Environment(
    api_url="https://api.ffn.test/api",
    authorize_url="https://auth.ffn.test/authorize",
    token_url="https://auth.ffn.test/token",
    name="test",
)


def environment_for(server: BaseTestServer) -> Environment:
    """An Environment whose API, authorize and token URLs point at a local test server."""
    return Environment(
        api_url=str(server.make_url("/api")),
        authorize_url=str(server.make_url("/authorize")),
        token_url=str(server.make_url("/token")),
        name="local",
    )


def make_jwt(
    scopes: Iterable[str] = ("ffn.merchant.read", "ffn.merchant.write"), **claims: object
) -> str:
    """An unsigned JWT-shaped access token carrying a ``scopes`` claim (unique each call)."""

    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

    payload = {"scopes": list(scopes), "jti": next(_counter), "iat": int(time.time()), **claims}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}.c2ln"


def token_response(
    *, scopes: Iterable[str] = ("ffn.merchant.read", "ffn.merchant.write"), expires_in: float = 1800
) -> dict[str, object]:
    n = next(_counter)
    return {
        "access_token": make_jwt(scopes),
        "refresh_token": f"refresh-{n}-secretvalue",
        "expires_in": expires_in,
        "token_type": "Bearer",
    }


@pytest.fixture
def env() -> Environment:
    return TEST_ENV


@pytest.fixture
def creds() -> ClientCredentials:
    return ClientCredentials("client-id", "s3cr3t-client-secret", "http://127.0.0.1/callback")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry back-offs recorded instead of slept (``ffn_async.retry._sleep`` is the one sleep)."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(retry_module, "_sleep", fake_sleep)
    return recorded


_LEFT_BEHIND: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _clean_scratch() -> Iterator[None]:
    """Remove this run's scratch Redis keys and SQL tables (tests/services.py) at the end, and
    note what appeared on the shared servers outside every run's scratch names meanwhile: a
    test that wrote there left it behind (reported at the end; under ``CI=true`` a failure)."""
    import asyncio

    from tests import services

    before = asyncio.run(services.outside_scratch())
    yield
    asyncio.run(services.clean_scratch())
    _LEFT_BEHIND.extend(sorted(asyncio.run(services.outside_scratch()) - before))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _LEFT_BEHIND:
        return
    shown = ", ".join(_LEFT_BEHIND[:10]) + (" …" if len(_LEFT_BEHIND) > 10 else "")
    message = (
        f"tests left {len(_LEFT_BEHIND)} key(s)/table(s) on the shared servers outside the "
        f"run's scratch names (tests/services.py: scratch_prefix, scratch_table): {shown}"
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "left behind on the shared servers", red=True)
        reporter.write_line(message, red=True)
    if os.environ.get("CI") == "true" and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
