"""A fake JTL-FFN server for tests and demos, like stripe-mock or moto.

``FakeFFN`` serves a strict OAuth server (single-use rotating refresh tokens, family
revocation on reuse), every operation of the Merchant and Fulfiller specs over one stateful
pair of accounts (each answer in its API's shape), change feeds, OData paging and filtering,
and fault injection, all on a loopback port::

    fake = FakeFFN(token_lifetime=2.0)
    async with fake.run() as environment:
        auth = TokenManager(fake.credentials, store, key="acme", environment=environment)
        ...
    assert fake.stats.reuse_attempts == 0
    sent = fake.received[-1]  # the latest API request: method, encoded path, query, body

With pytest, the ``ffn_fake`` fixture (plugin :mod:`ffn_async.testing.pytest_plugin`) does
the same per test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import FakeClock
    from .faults import FaultKind, Faults
    from .http import ApiFailure
    from .oauth import DEFAULT_SCOPES, OAuthServer, TokenFault
    from .received import ReceivedRequest
    from .server import FakeFFN
    from .stats import FakeStats

__all__ = [
    "DEFAULT_SCOPES",
    "ApiFailure",
    "FakeClock",
    "FakeFFN",
    "FakeStats",
    "FaultKind",
    "Faults",
    "OAuthServer",
    "ReceivedRequest",
    "TokenFault",
]

# Imported on first use (PEP 562): the pytest plugin lives in this package and is loaded into
# every pytest run where ffn-async is installed, which should not pay for the whole fake.
_HOMES = {
    "DEFAULT_SCOPES": "oauth",
    "ApiFailure": "http",
    "FakeClock": "clock",
    "FakeFFN": "server",
    "FakeStats": "stats",
    "FaultKind": "faults",
    "Faults": "faults",
    "OAuthServer": "oauth",
    "ReceivedRequest": "received",
    "TokenFault": "oauth",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
