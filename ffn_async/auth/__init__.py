"""Authentication: the strategies a client accepts, and the token lifecycle behind them.

Layered like Authlib's wire / client / integration split, lower to higher (import-linter
checks it, ``pyproject.toml``):

- :mod:`~ffn_async.auth.oauth`: the wire protocol of JTL's authorization server (the
  authorize URL, the two token-endpoint calls); :mod:`~ffn_async.auth.strategies`: the
  :class:`Auth` protocol the client uses, :class:`AuthBase` with its defaults, and
  :class:`StaticToken`; :mod:`~ffn_async.auth.record`: the stored token record
  (:class:`StoredToken`) and its encoding.
- :mod:`~ffn_async.auth.account`: one account's state in this process and its record's
  persistence (background saves, mark lifters, the lease keeper).
- :mod:`~ffn_async.auth.rotation`: refresh exactly once per rotation across coroutines,
  processes and hosts (its module docstring states the design, step by step).
- :mod:`~ffn_async.auth.manager`: :class:`TokenManager`, the public strategy on top.
"""

from __future__ import annotations

from .manager import TokenManager
from .record import StoredToken
from .strategies import Auth, AuthBase, StaticToken, with_defaults

__all__ = ["Auth", "AuthBase", "StaticToken", "StoredToken", "TokenManager", "with_defaults"]
