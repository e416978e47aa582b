"""The query options each store URL scheme accepts, and the check of a URL against them.

Apart from :mod:`token_stores.url` so that the stores built from a URL (redis, sql) can check
the URL they are given without importing the module that builds them.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from .base import InvalidStoreURL

__all__ = ["check_options"]

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


def _check_redis_database(scheme: str, path: str) -> None:
    """A Redis URL's path is its database number (redis-py would take ``/eleven`` as 0)."""
    database = path.strip("/")
    if database and not database.isdigit():
        raise InvalidStoreURL(
            f"token store URL: the path of a {scheme}:// URL is the database number, e.g. "
            f"{scheme}://host:6379/0; got {database!r}"
        )


def check_options(url: str) -> None:
    """Raise :class:`InvalidStoreURL` if ``url``'s query has an option its store cannot use.

    URLs of schemes this module does not know (another SQLAlchemy driver) are left to it.
    """
    scheme = url.partition("://")[0].lower()
    accepted = _OPTIONS.get(scheme)
    if accepted is None:
        return
    if scheme in ("redis", "rediss"):
        _check_redis_database(scheme, urlsplit(url).path)
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
