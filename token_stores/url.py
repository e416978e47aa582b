"""One setting for storage: ``from_url("redis://cache:6379/0")`` builds the matching store.

Query options are checked before anything connects: an unknown option or a value it does not
take is an :class:`InvalidStoreURL` naming the option and what it accepts (drivers would
otherwise fail later with a bare ``TypeError`` from deep inside a connection attempt).
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

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

    A Redis URL may carry the store's key prefix as ``?prefix=app:`` (the one way to set it
    where only a URL can be given, as with ``FFN_TOKEN_STORE``). A keyword in ``options`` that
    the store cannot take is a :class:`TypeError` naming the valid ones, before anything
    connects (Redis would otherwise fail at the first command, deep inside its connection).
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
    if kind == "RedisTokenStore":
        url, options = _redis_prefix(url, options)
    check_options(url)
    _check_keywords(kind, scheme, options)
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


def _redis_prefix(url: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Move a Redis URL's ``prefix`` query option into the store's ``prefix=`` keyword."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    if not prefixes:
        return url, options
    if len(prefixes) > 1 or "prefix" in options:
        raise InvalidStoreURL("give the Redis key prefix once: ?prefix= in the URL or prefix=")
    if not prefixes[0]:
        raise InvalidStoreURL("token store URL: ?prefix= needs a value, e.g. ?prefix=app:")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), {**options, "prefix": prefixes[0]}


def _check_keywords(kind: str, scheme: str, options: dict[str, Any]) -> None:
    """Raise :class:`TypeError` for a keyword the store (or its Redis client) cannot take."""
    if not options:
        return
    if kind == "MemoryTokenStore":
        accepted: set[str] = set()
    elif kind == "FileTokenStore":
        from .file import FileTokenStore

        accepted = _keywords(FileTokenStore) - {"path"}
    elif kind == "RedisTokenStore":
        # The store's own keywords, and the client's: the rest goes to Redis.from_url.
        import redis.asyncio as aioredis

        from .redis import RedisTokenStore

        client = aioredis.RedisCluster if scheme.endswith("+cluster") else aioredis.Redis
        accepted = (_keywords(RedisTokenStore) | _keywords(client)) - {"url", "host", "port"}
    else:
        return  # SQLAlchemy names an unknown engine option itself, when the store is built
    for name in sorted(set(options) - accepted):
        close = difflib.get_close_matches(name, accepted, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        valid = ", ".join(sorted(accepted)) or "none"
        raise TypeError(
            f"from_url(): {scheme}:// builds a {kind}, which takes no option {name!r}; "
            f"{hint}valid options: {valid}"
        )


def _keywords(cls: type) -> set[str]:
    """The named parameters of ``cls``'s constructor (``*args``/``**kwargs`` left out)."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(cls).parameters.values()
    return {p.name for p in parameters if p.kind in named and p.name != "self"}
