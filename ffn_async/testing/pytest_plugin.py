"""pytest plugin: the ``ffn_fake`` fixture, a :class:`FakeFFN` running for one test.

Loaded automatically through the ``pytest11`` entry point when ffn-async is installed; or add
``pytest_plugins = ["ffn_async.testing.pytest_plugin"]`` to a ``conftest.py``. Configure the
fake per test with ``@pytest.mark.ffn_fake(token_lifetime=2.0, ...)`` (keywords of
:class:`FakeFFN`), or for a whole directory by overriding the ``ffn_fake_options`` fixture.
With pytest-asyncio installed the server runs in the test's event loop; without it, in a
background thread (so plain synchronous tests can use it too).

Installed with the package, this module is imported into every pytest run of every project
that has ffn-async installed: it imports nothing of the fake server until a test asks for
``ffn_fake`` (the fake's 27 modules cost about 90 ms).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import pytest

if TYPE_CHECKING:
    from collections import deque

    from ..environment import Environment
    from ..token import ClientCredentials
    from .received import ReceivedRequest
    from .server import FakeFFN
    from .stats import FakeStats

__all__ = ["RunningFake", "ffn_fake", "ffn_fake_options"]


@attrs.frozen
class RunningFake:
    """What ``ffn_fake`` yields: the server object and where it listens."""

    server: FakeFFN
    environment: Environment

    @property
    def credentials(self) -> ClientCredentials:
        """The OAuth client the fake accepts."""
        return self.server.credentials

    @property
    def stats(self) -> FakeStats:
        """The server's counters."""
        return self.server.stats

    @property
    def received(self) -> deque[ReceivedRequest]:
        """The latest API requests the server received, oldest first."""
        return self.server.received


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ffn_fake(**options): keyword arguments for the ffn_fake fixture's FakeFFN"
    )


@pytest.fixture
def ffn_fake_options() -> dict[str, Any]:
    """Keyword arguments for :class:`FakeFFN`; override it in a conftest to change defaults."""
    return {}


def _make_fake(request: pytest.FixtureRequest, options: dict[str, Any]) -> FakeFFN:
    from .server import FakeFFN  # on use: see the module's docstring

    merged = dict(options)
    marker = request.node.get_closest_marker("ffn_fake")
    if marker is not None:
        merged.update(marker.kwargs)
    return FakeFFN(**merged)


async def _serve_in_loop(
    request: pytest.FixtureRequest, ffn_fake_options: dict[str, Any]
) -> AsyncIterator[RunningFake]:
    """A :class:`FakeFFN` serving on a free loopback port for the duration of one test."""
    fake = _make_fake(request, ffn_fake_options)
    async with fake.run() as environment:
        yield RunningFake(fake, environment)


def _serve_in_thread(
    request: pytest.FixtureRequest, ffn_fake_options: dict[str, Any]
) -> Iterator[RunningFake]:
    """A :class:`FakeFFN` serving from a background thread for the duration of one test."""
    fake = _make_fake(request, ffn_fake_options)
    with fake.run_in_thread() as environment:
        yield RunningFake(fake, environment)


ffn_fake: Any
try:
    import pytest_asyncio
except ImportError:  # plain pytest: serve from a thread
    ffn_fake = pytest.fixture(name="ffn_fake")(_serve_in_thread)
else:
    ffn_fake = pytest_asyncio.fixture(name="ffn_fake")(_serve_in_loop)
