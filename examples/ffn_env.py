"""Shared by the examples: an FFN account configured from ``FFN_*`` environment variables.

The same variables as the ``ffn-async`` command: FFN_CLIENT_ID, FFN_CLIENT_SECRET,
FFN_REDIRECT_URI, FFN_ACCOUNT, FFN_TOKEN_STORE, and FFN_ENVIRONMENT (production, sandbox) or
FFN_API_URL + FFN_AUTHORIZE_URL + FFN_TOKEN_URL for a custom one. Log in once with
``ffn-async login``; the examples only use the stored token.
"""

from __future__ import annotations

import os

from ffn_async import ClientCredentials, Environment, TokenManager
from token_stores import TokenStore, from_url

__all__ = ["open_account"]


def _environment() -> Environment:
    if os.environ.get("FFN_API_URL"):
        return Environment(
            api_url=os.environ["FFN_API_URL"],
            authorize_url=os.environ["FFN_AUTHORIZE_URL"],
            token_url=os.environ["FFN_TOKEN_URL"],
        )
    name = os.environ.get("FFN_ENVIRONMENT", "production")
    return Environment.SANDBOX if name == "sandbox" else Environment.PRODUCTION


async def open_account() -> tuple[TokenStore, TokenManager]:
    """The token store and a TokenManager for the configured account (close the store)."""
    store = from_url(os.environ["FFN_TOKEN_STORE"])
    create_schema = getattr(store, "create_schema", None)
    if create_schema is not None:  # SQL stores: make sure the table exists
        await create_schema()
    credentials = ClientCredentials(
        os.environ["FFN_CLIENT_ID"],
        os.environ["FFN_CLIENT_SECRET"],
        os.environ.get("FFN_REDIRECT_URI"),
    )
    auth = TokenManager(
        credentials, store, key=os.environ.get("FFN_ACCOUNT", "default"), environment=_environment()
    )
    return store, auth
