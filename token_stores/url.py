"""One setting for storage: ``from_url("redis://cache:6379/0")`` builds the matching store.

Query options are checked before anything connects: an unknown option or a value it does not
take is an :class:`InvalidStoreURL` naming the option and what it accepts (drivers would
otherwise fail later with a bare ``TypeError`` from deep inside a connection attempt).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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

# What each option takes: a tuple of the accepted values, or "int", "number", "bool", "path".
_BOOL = ("true", "false")
_PG_SSL = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_REDIS: dict[str, tuple[str, ...] | str] = {
    "db": "int",
    "socket_timeout": "number",
    "socket_connect_timeout": "number",
    "socket_keepalive": _BOOL,
    "retry_on_timeout": _BOOL,
    "max_connections": "int",
    "health_check_interval": "int",
    "protocol": ("2", "3"),
    "client_name": "path",
}
_REDIS_TLS: dict[str, tuple[str, ...] | str] = {
    **_REDIS,
    "ssl_cert_reqs": ("none", "optional", "required"),
    "ssl_check_hostname": _BOOL,
    "ssl_ca_certs": "path",
    "ssl_certfile": "path",
    "ssl_keyfile": "path",
}
_MYSQL: dict[str, tuple[str, ...] | str] = {
    "charset": ("utf8mb4",),
    "connect_timeout": "int",
    "ssl_ca": "path",
    "ssl_cert": "path",
    "ssl_key": "path",
    "ssl_capath": "path",
    "ssl_check_hostname": _BOOL,
    "unix_socket": "path",
}
_OPTIONS: dict[str, dict[str, tuple[str, ...] | str]] = {
    "memory": {},
    "file": {},
    "redis": _REDIS,
    "unix": _REDIS,
    "rediss": _REDIS_TLS,
    # A cluster has only database 0.
    "redis+cluster": {k: v for k, v in _REDIS.items() if k != "db"},
    "rediss+cluster": {k: v for k, v in _REDIS_TLS.items() if k != "db"},
    "postgresql+asyncpg": {
        "ssl": _PG_SSL,
        "target_session_attrs": (
            "any",
            "primary",
            "standby",
            "prefer-standby",
            "read-write",
            "read-only",
        ),
        "prepared_statement_cache_size": "int",
    },
    "mysql+asyncmy": _MYSQL,
    "mariadb+asyncmy": _MYSQL,
    "sqlite+aiosqlite": {"timeout": "number"},
}
#: Options of other tools people carry over, and what to write instead.
_INSTEAD = {"sslmode": "ssl", "ssl_mode": "ssl", "password": "the password in the URL's user part"}


def _accepts(kind: tuple[str, ...] | str, value: str) -> bool:
    if isinstance(kind, tuple):
        return value.lower() in kind
    if kind == "int":
        return value.isdigit()
    if kind == "number":
        try:
            return float(value) >= 0
        except ValueError:
            return False
    return bool(value)  # a path or a name: anything but empty


def _describe(name: str, kind: tuple[str, ...] | str) -> str:
    if isinstance(kind, tuple):
        return f"{name}={'|'.join(kind)}"
    return f"{name}=<{'a ' + kind if kind != 'int' else 'an integer'}>"


def check_options(url: str) -> None:
    """Raise :class:`InvalidStoreURL` if ``url``'s query has an option its store cannot use.

    URLs of schemes this module does not know (another SQLAlchemy driver) are left to it.
    """
    scheme = url.partition("://")[0].lower()
    accepted = _OPTIONS.get(scheme)
    if accepted is None:
        return
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        listing = ", ".join(_describe(n, k) for n, k in accepted.items()) or "none"
        kind = accepted.get(name)
        if kind is None:
            # Only the name: the value of an unknown option might be a secret.
            hint = f" (write {_INSTEAD[name]} instead)" if name in _INSTEAD else ""
            raise InvalidStoreURL(
                f"token store URL: {scheme}:// does not take the option {name!r}{hint}; "
                f"accepted options: {listing}"
            )
        if not _accepts(kind, value):
            raise InvalidStoreURL(
                f"token store URL: option {name}={value!r} is not valid for {scheme}://; "
                f"use {_describe(name, kind)}"
            )


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
