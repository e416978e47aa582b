"""Small helpers several test packages share (the real services are in :mod:`tests.services`)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ffn_async.models import merchant

if TYPE_CHECKING:
    from ffn_async.testing import FakeFFN

__all__ = [
    "EXAMPLES",
    "examples_importable",
    "fake_variables",
    "outbound_request",
    "readme_block",
    "run_script",
    "set_variables",
    "spawn_cli",
]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
README = Path(__file__).resolve().parent.parent / "README.md"
sys.path.insert(0, str(README.parent / "tools"))

import readme_block as _readme_block  # noqa: E402


def readme_block(heading: str, language: str = "python") -> str:
    """The first ``language`` code block of the README section titled ``heading`` (the one
    extraction, shared with CI: tools/readme_block.py)."""
    return _readme_block.block(heading, language)


def run_script(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``code`` run as a script of its own in ``cwd``, as someone pasting it would."""
    script = cwd / "pasted.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def examples_importable(monkeypatch: pytest.MonkeyPatch, *modules: str) -> Iterator[None]:
    """``examples/`` on ``sys.path`` for one test; the example ``modules`` it imported are
    forgotten afterwards, so that the next test imports them afresh."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    try:
        yield
    finally:
        for name in modules:
            sys.modules.pop(name, None)


def fake_variables(fake: FakeFFN, **extra: str) -> dict[str, str]:
    """The ``FFN_*`` variables that point ``ffn-async`` (or ``open_account()``) at ``fake``."""
    env = fake.environment
    return {
        "FFN_CLIENT_ID": fake.credentials.client_id,
        "FFN_CLIENT_SECRET": fake.credentials.client_secret,
        "FFN_API_URL": str(env.api_url),
        "FFN_AUTHORIZE_URL": str(env.authorize_url),
        "FFN_TOKEN_URL": str(env.token_url),
        **extra,
    }


def set_variables(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> dict[str, str]:
    """Set ``values`` in the environment for this test, after removing every other ``FFN_*``."""
    for name in [n for n in __import__("os").environ if n.startswith("FFN_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def outbound_request(fake: FakeFFN, number: str) -> merchant.CreateOutboundRequest:
    """An outbound of one item from the fake's default warehouse, as a shop would send it."""
    return merchant.CreateOutboundRequest(
        merchant_outbound_number=number,
        warehouse_id=fake.api.default_warehouse_id,
        currency="EUR",
        shipping_address=merchant.CreateAddressRequest(
            street="Hauptstr. 1", city="Monheim", country="DE"
        ),
        items=[
            merchant.CreateOutboundItemRequest(
                outbound_item_id="1", jfsku="MERC0100001", quantity=Decimal(1)
            )
        ],
    )


async def spawn_cli(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """``python -m ffn_async.cli *argv`` as a subprocess with its stdout piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ffn_async.cli", *argv, stdout=asyncio.subprocess.PIPE, env=env
    )
