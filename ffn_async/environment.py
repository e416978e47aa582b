"""Where the API and the OAuth server live: production, sandbox, or your own URLs."""

from __future__ import annotations

from typing import ClassVar

import attrs
from yarl import URL

__all__ = ["Environment"]


def _url(value: str | URL) -> URL:
    url = URL(value)
    if not url.is_absolute() or url.scheme not in ("http", "https"):
        raise ValueError(f"expected an absolute http(s) URL, got {str(value)!r}")
    return url


@attrs.frozen
class Environment:
    """The three URLs an FFN client needs.

    ``api_url`` is the API's base (``…/api``); operation paths such as ``/v1/users/current`` are
    appended to it. Use :attr:`PRODUCTION`, :attr:`SANDBOX` or your own (a fake server, a proxy).
    """

    api_url: URL = attrs.field(converter=_url)
    authorize_url: URL = attrs.field(converter=_url)
    token_url: URL = attrs.field(converter=_url)
    name: str = "custom"

    PRODUCTION: ClassVar[Environment]
    SANDBOX: ClassVar[Environment]

    @property
    def api_origin(self) -> URL:
        """Scheme, host and port of the API: the only origin that gets the bearer token."""
        return self.api_url.origin()


Environment.PRODUCTION = Environment(
    api_url="https://ffn2.api.jtl-software.com/api",
    authorize_url="https://oauth2.api.jtl-software.com/authorize",
    token_url="https://oauth2.api.jtl-software.com/token",
    name="production",
)
Environment.SANDBOX = Environment(
    api_url="https://ffn-sbx.api.jtl-software.com/api",
    authorize_url="https://oauth2.api.jtl-software.com/authorize",
    token_url="https://oauth2.api.jtl-software.com/token",
    name="sandbox",
)
