"""Settings of the ``ffn-async`` command, from flags first and ``FFN_*`` variables second.

The client secret and the token encryption key are read from variables (or a key file) only:
a command-line argument would be visible to every user of the machine in the process list.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attrs
from yarl import URL

from token_stores import TokenStore

from ..auth.manager import TokenManager
from ..environment import Environment
from ..token import ClientCredentials

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REDIRECT_URI",
    "DEFAULT_SCOPES",
    "VARIABLES",
    "ConfigError",
    "Settings",
    "StoreAbsent",
    "add_options",
    "add_output_options",
    "data_dir",
    "default_store_url",
    "open_store",
    "read_keys",
    "redact_url",
    "settings_from",
    "unknown_variables",
]

DEFAULT_ACCOUNT = "default"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_ENVIRONMENTS = {"production": Environment.PRODUCTION, "sandbox": Environment.SANDBOX}
#: Every ``FFN_*`` variable the command reads.
VARIABLES = (
    "FFN_CLIENT_ID",
    "FFN_CLIENT_SECRET",
    "FFN_REDIRECT_URI",
    "FFN_ENVIRONMENT",
    "FFN_API_URL",
    "FFN_AUTHORIZE_URL",
    "FFN_TOKEN_URL",
    "FFN_ACCOUNT",
    "FFN_TOKEN_STORE",
    "FFN_TOKEN_KEY",
    "FFN_TOKEN_KEY_FILE",
    "FFN_SCOPES",
)


class ConfigError(Exception):
    """The command is missing a setting or got an unusable one (exit code 2)."""


@attrs.frozen
class Settings:
    """Everything a command needs to reach an account; secrets are never in its repr."""

    client_id: str | None
    client_secret: str | None = attrs.field(repr=False)
    redirect_uri: str
    environment: Environment
    account: str
    store_url: str = attrs.field(repr=False)
    scopes: tuple[str, ...]
    #: Fernet keys of the token store, newest first (empty: the store is not encrypted).
    token_keys: tuple[str, ...] = attrs.field(default=(), repr=False)
    #: Where ``environment`` came from: a flag, a variable, or ``"default"`` (production).
    environment_from: str = "default"

    def credentials(self, *, require_secret: bool = True) -> ClientCredentials:
        """The OAuth client; raises :class:`ConfigError` naming what is missing."""
        missing = [
            name
            for name, value, needed in (
                ("FFN_CLIENT_ID (or --client-id)", self.client_id, True),
                ("FFN_CLIENT_SECRET", self.client_secret, require_secret),
            )
            if needed and not value
        ]
        if missing:
            raise ConfigError(f"set {' and '.join(missing)}: the OAuth client of your FFN app")
        return ClientCredentials(self.client_id or "", self.client_secret or "", self.redirect_uri)

    def token_manager(self, store: TokenStore, *, require_secret: bool = True) -> TokenManager:
        """A :class:`TokenManager` for the configured account on ``store``."""
        return TokenManager(
            self.credentials(require_secret=require_secret),
            store,
            key=self.account,
            environment=self.environment,
        )


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the command keeps its default token store (XDG data dir, or LOCALAPPDATA)."""
    env = os.environ if env is None else env
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "ffn-async"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ffn-async"


def default_store_url(directory: Path | None = None) -> str:
    """The embedded default store under ``directory`` (default: :func:`data_dir`).

    SQLite (``tokens.db``) when the ``sqlite`` extra is installed, else a file store
    (``tokens/``, one file per account); both are safe for many processes on one machine.
    """
    directory = (directory or data_dir()).absolute()
    if all(importlib.util.find_spec(m) is not None for m in ("sqlalchemy", "aiosqlite")):
        return f"sqlite+aiosqlite:///{directory / 'tokens.db'}"
    return (directory / "tokens").as_uri()


def redact_url(url: str) -> str:
    """``url`` with any password replaced, for display."""
    parsed = URL(url)
    if parsed.password:
        return str(parsed.with_password("***"))
    return url


class StoreAbsent(Exception):
    """A read-only command found no store at all where the URL points (nothing was created)."""


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return None
    path = url.removeprefix(prefix).partition("?")[0]
    return None if path in ("", ":memory:") else Path(path)


def _prepare_local(url: str, *, create: bool) -> None:
    """Make a local store's directory (private), or check that it exists when only reading."""
    sqlite = _sqlite_path(url)
    if sqlite is not None:
        if create:
            # Private whatever the umask: the directory holds refresh tokens.
            sqlite.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif not sqlite.is_file():
            raise StoreAbsent(f"there is no token store at {sqlite} yet")
    elif url.startswith("file:") and not create:
        directory = Path(unquote(urlsplit(url).path))
        if not directory.is_dir():
            raise StoreAbsent(f"there is no token store at {directory} yet")


async def open_store(url: str, keys: tuple[str, ...] = (), *, create: bool = True) -> TokenStore:
    """Build the store a URL names, encrypted with ``keys`` when there are any.

    ``create``: make a missing SQLite directory and SQL table (a login does); without it a
    missing SQLite file raises :class:`StoreAbsent` and nothing is created (``token status``).
    """
    from token_stores import from_url

    if url.partition("://")[0].lower() == "memory":
        raise ConfigError(
            "token store memory:// forgets the login when the command ends: use a lasting one "
            "(FFN_TOKEN_STORE or --store: sqlite+aiosqlite:///path, file:///dir, redis://..., "
            "postgresql+asyncpg://..., mysql+asyncmy://...)"
        )
    _prepare_local(url, create=create)
    try:
        store = from_url(url)
    except ImportError as exc:
        raise ConfigError(f"token store {redact_url(url)}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"token store (FFN_TOKEN_STORE or --store): {exc}") from None
    if keys:
        try:
            from token_stores import EncryptedTokenStore
        except ImportError as exc:
            await store.close()
            raise ConfigError(str(exc)) from None
        try:
            store = EncryptedTokenStore(store, keys)
        except ValueError as exc:
            await store.close()
            raise ConfigError(f"FFN_TOKEN_KEY / FFN_TOKEN_KEY_FILE: {exc}") from None
    create_schema = getattr(getattr(store, "inner", store), "create_schema", None)
    if create and create_schema is not None:
        try:
            await create_schema()
        except BaseException:
            await store.close()
            raise
    return store


def read_keys(env: Mapping[str, str], key_file: str | None) -> tuple[str, ...]:
    """Fernet keys, newest first, from ``FFN_TOKEN_KEY`` or a key file (one key a line)."""
    inline = env.get("FFN_TOKEN_KEY") or ""
    key_file = key_file or env.get("FFN_TOKEN_KEY_FILE") or None
    if inline and key_file:
        raise ConfigError("set either FFN_TOKEN_KEY or FFN_TOKEN_KEY_FILE, not both")
    if key_file:
        try:
            inline = Path(key_file).expanduser().read_text()
        except OSError as exc:
            raise ConfigError(f"token key file {key_file}: {exc.strerror}") from None
        if not inline.strip():
            raise ConfigError(f"token key file {key_file} is empty")
    return tuple(inline.replace(",", " ").split())


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the account options; defaults are suppressed so they work before or after a command."""
    group = parser.add_argument_group("account options (flags win over FFN_* variables)")
    add = group.add_argument
    s = argparse.SUPPRESS
    add("--client-id", default=s, help="OAuth client id (FFN_CLIENT_ID)")
    add(
        "--redirect-uri", default=s, help=f"redirect URI (FFN_REDIRECT_URI, {DEFAULT_REDIRECT_URI})"
    )
    add(
        "--environment",
        default=s,
        choices=("production", "sandbox", "custom"),
        help="FFN_ENVIRONMENT; custom needs --api-url, --authorize-url and --token-url",
    )
    add("--api-url", default=s, help="custom API base URL ending in /api (FFN_API_URL)")
    add("--authorize-url", default=s, help="custom authorize URL (FFN_AUTHORIZE_URL)")
    add("--token-url", default=s, help="custom token URL (FFN_TOKEN_URL)")
    add("--account", default=s, help=f"store key of the account (FFN_ACCOUNT, {DEFAULT_ACCOUNT!r})")
    add("--store", default=s, help="token store URL (FFN_TOKEN_STORE; default: embedded SQLite)")
    add(
        "--token-key-file",
        default=s,
        metavar="PATH",
        help="encrypt the store with the Fernet key(s) in PATH, newest first (FFN_TOKEN_KEY_FILE;"
        " or the keys themselves in FFN_TOKEN_KEY)",
    )
    add("--scope", action="append", default=s, help="scope to request at login (repeatable)")
    add_output_options(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``-v``/``--debug``, accepted before or after the command."""
    s = argparse.SUPPRESS
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-v", "--verbose", action="store_true", default=s, help="show the library's log (INFO)"
    )
    group.add_argument(
        "--debug", action="store_true", default=s, help="tracebacks and DEBUG logging on stderr"
    )


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``FFN_*`` variable that is close to, but not, one the command reads.

    Only near misses: other programs may have ``FFN_*`` variables of their own.
    """
    env = os.environ if env is None else env
    warnings = []
    for name in sorted(env):
        if not name.startswith("FFN_") or name in VARIABLES:
            continue
        close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.8)
        if close:
            warnings.append(f"{name} is not a setting of ffn-async and is ignored: {close[0]}?")
    return warnings


def _scopes(text: str) -> list[str]:
    """``FFN_SCOPES``: scopes separated by spaces or commas (as OAuth and people write them)."""
    return [scope for scope in re.split(r"[\s,]+", text) if scope]


def _environment(pick: dict[str, str | None]) -> Environment:
    name = pick["environment"]
    urls = {k: pick[k] for k in ("api_url", "authorize_url", "token_url")}
    given = {k: v for k, v in urls.items() if v}
    if name is None:
        name = "custom" if given else "production"
    if name not in (*_ENVIRONMENTS, "custom"):
        raise ConfigError(f"FFN_ENVIRONMENT must be production, sandbox or custom, not {name!r}")
    if name != "custom":
        if given:
            raise ConfigError(
                f"custom URLs ({', '.join(given)}) conflict with the {name} environment"
            )
        return _ENVIRONMENTS[name]
    missing = [k for k in urls if k not in given]
    if missing:
        names = ", ".join("FFN_" + k.upper() for k in missing)
        raise ConfigError(f"a custom environment needs all three URLs; missing {names}")
    for key, value in given.items():
        url = URL(value)
        if not url.is_absolute() or url.scheme not in ("http", "https"):
            flag = "--" + key.replace("_", "-")
            raise ConfigError(
                f"FFN_{key.upper()} (or {flag}) must be an absolute http(s) URL, got {value!r}"
            )
    return Environment(name="custom", **given)


def settings_from(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting: the flag if given, else its ``FFN_*`` variable, else the default."""
    env = os.environ if env is None else env

    def pick(flag: str, var: str) -> str | None:
        value = getattr(args, flag, None)
        return value if value is not None else (env.get(var) or None)

    environment = _environment(
        {
            "environment": pick("environment", "FFN_ENVIRONMENT"),
            "api_url": pick("api_url", "FFN_API_URL"),
            "authorize_url": pick("authorize_url", "FFN_AUTHORIZE_URL"),
            "token_url": pick("token_url", "FFN_TOKEN_URL"),
        }
    )
    scopes = getattr(args, "scope", None) or _scopes(env.get("FFN_SCOPES") or "")
    if getattr(args, "environment", None) is not None:
        environment_from = "--environment"
    elif env.get("FFN_ENVIRONMENT"):
        environment_from = "FFN_ENVIRONMENT"
    elif environment.name == "custom":
        environment_from = "the custom URLs"
    else:
        environment_from = "default"
    return Settings(
        client_id=pick("client_id", "FFN_CLIENT_ID"),
        client_secret=env.get("FFN_CLIENT_SECRET") or None,
        redirect_uri=pick("redirect_uri", "FFN_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
        environment=environment,
        account=pick("account", "FFN_ACCOUNT") or DEFAULT_ACCOUNT,
        store_url=pick("store", "FFN_TOKEN_STORE") or default_store_url(),
        scopes=tuple(scopes) or DEFAULT_SCOPES,
        token_keys=read_keys(env, getattr(args, "token_key_file", None)),
        environment_from=environment_from,
    )
