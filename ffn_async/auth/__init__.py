"""Authentication: the strategies a client accepts, and the token lifecycle behind them.

:mod:`~ffn_async.auth.oauth` is the wire protocol of JTL's authorization server (the authorize
URL, the two token-endpoint calls); :mod:`~ffn_async.auth.manager` holds the strategies:
:class:`TokenManager` (refresh exactly once per rotation across coroutines, processes and
hosts), :class:`StoredToken` and :class:`StaticToken`.
"""

from __future__ import annotations

from .manager import Auth, StaticToken, StoredToken, TokenManager

__all__ = ["Auth", "StaticToken", "StoredToken", "TokenManager"]
