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
