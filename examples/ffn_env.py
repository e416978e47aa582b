"""Shared by the examples: the FFN account the ``ffn-async`` command uses.

The same ``FFN_*`` variables and defaults as the command (FFN_CLIENT_ID, FFN_CLIENT_SECRET,
FFN_ENVIRONMENT or FFN_API_URL/FFN_AUTHORIZE_URL/FFN_TOKEN_URL, FFN_ACCOUNT, FFN_TOKEN_STORE —
default: the command's own store —, FFN_TOKEN_KEY): log in once with ``ffn-async login`` and
the examples find the stored token.
"""

from __future__ import annotations

import sys

from ffn_async import TokenManager
from ffn_async.cli import ConfigError
from ffn_async.cli import open_account as _open_account
from token_stores import TokenStore

__all__ = ["open_account"]


async def open_account() -> tuple[TokenStore, TokenManager]:
    """The token store and a TokenManager for the configured account (close the store).

    A missing or wrong setting ends the program with one line naming the variable.
    """
    try:
        return await _open_account()
    except ConfigError as exc:
        sys.exit(f"{sys.argv[0]}: {exc}")
