"""ffn-async: an async-first client for the JTL Fulfillment Network (JTL-FFN) API.

Refreshes single-use rotating OAuth tokens exactly once per rotation across coroutines,
processes and hosts, and persists them through :mod:`token_stores`.
"""

from __future__ import annotations

import logging

from . import errors
from .auth import StaticToken, StoredToken, TokenManager
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

# A library configures no logging (the logging HOWTO, "Configuring Logging for a Library"):
# without this, Python's last-resort handler would print our warnings on stderr of every app.
logging.getLogger("ffn_async").addHandler(logging.NullHandler())
