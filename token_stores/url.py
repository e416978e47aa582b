"""One setting for storage: ``from_url("redis://cache:6379/0")`` builds the matching store.

Query options are checked before anything connects: an unknown option or a value it does not
take is an :class:`InvalidStoreURL` naming the option and what it accepts (drivers would
otherwise fail later with a bare ``TypeError`` from deep inside a connection attempt).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from ._options import check_options
from .base import InvalidStoreURL, TokenStore

__all__ = ["SCHEMES", "check_options", "from_url"]

#: Scheme -> what it builds; SQL URLs are SQLAlchemy async URLs.
SCHEMES = {
    "memory": "MemoryTokenStore",
    "file": "FileTokenStore",
    "redis": "RedisTokenStore",
    "rediss": "RedisTokenStore",
    "redis+cluster": "RedisTokenStore",
    "rediss+cluster": "RedisTokenStore",
    "unix": "RedisTokenStore",
    "postgresql+asyncpg": "SQLTokenStore",
    "mysql+asyncmy": "SQLTokenStore",
    "mariadb+asyncmy": "SQLTokenStore",
    "sqlite+aiosqlite": "SQLTokenStore",
}


def from_url(url: str, **options: Any) -> TokenStore:
    """Build the store a URL names; ``options`` go to that store's constructor.

    ``memory://``; ``file:///var/lib/app/tokens`` (a directory); ``redis://[:password@]host:6379/0``,
    ``rediss://…``, ``unix:///path/to/redis.sock``, ``redis+cluster://node:6379`` (Redis Cluster,
    any node); ``postgresql+asyncpg://user@host/db``,
    ``mysql+asyncmy://user@host/db``, ``sqlite+aiosqlite:///path/to/tokens.db``.
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    kind = SCHEMES.get(scheme)
    if kind is None:
        # The URL may hold a password: name only its scheme.
        raise InvalidStoreURL(
            f"unsupported token store URL scheme {scheme or '(none)'!r}; {_did_you_mean(url)}"
            + "supported: "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    check_options(url)
    if kind == "MemoryTokenStore":
        from .memory import MemoryTokenStore

        return MemoryTokenStore(**options)
    if kind == "FileTokenStore":
        from .file import FileTokenStore

        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidStoreURL("a file store URL looks like file:///absolute/path/to/directory")
        return FileTokenStore(unquote(parts.path), **options)
    if kind == "RedisTokenStore":
        from .redis import RedisTokenStore

        return RedisTokenStore(url, **options)
    from .sql import SQLTokenStore

    return SQLTokenStore(url, **options)


# What people type -> the async driver URL this package needs.
_ALIASES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mysql+pymysql": "mysql+asyncmy",
    "mysql+aiomysql": "mysql+asyncmy",
    "mariadb": "mariadb+asyncmy",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def _did_you_mean(url: str) -> str:
    """``"did you mean …; "`` for a familiar but unsupported spelling (password masked)."""
    scheme, sep, rest = url.partition("://")
    target = _ALIASES.get(scheme.lower()) if sep else None
    if target is None:
        return ""
    parts = urlsplit(url)
    if parts.password:
        rest = rest.replace(f":{parts.password}@", ":***@", 1)
    return f"did you mean {target}://{rest} (an async driver)? "
