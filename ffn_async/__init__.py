"""ffn-async: an async-first client for the JTL Fulfillment Network (JTL-FFN) API.

Refreshes single-use rotating OAuth tokens exactly once per rotation across coroutines,
processes and hosts, and persists them through :mod:`token_stores`.
"""

from __future__ import annotations

import logging

from . import _moved, errors
from .auth.manager import StaticToken, StoredToken, TokenManager
from .client import FFNClient, Response, __version__
from .environment import Environment
from .retry import RetryPolicy
from .token import ClientCredentials, Token

__all__ = [
    "ClientCredentials",
    "Environment",
    "FFNClient",
    "Response",
    "RetryPolicy",
    "StaticToken",
    "StoredToken",
    "Token",
    "TokenManager",
    "__version__",
    "errors",
]

_moved.install()  # 0.2.0's module paths keep working for one release, with a warning

# A library configures no logging (the logging HOWTO, "Configuring Logging for a Library"):
# without this, Python's last-resort handler would print our warnings on stderr of every app.
logging.getLogger("ffn_async").addHandler(logging.NullHandler())
