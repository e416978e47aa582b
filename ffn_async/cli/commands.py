"""What each ``ffn-async`` subcommand does, once its settings are resolved."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import webbrowser
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import orjson
from yarl import URL

from token_stores import TokenStore

from ..auth.manager import StoredToken, TokenManager
from ..client import FFNClient
from ..environment import Environment
from ..errors import CorruptRecord, ForeignLinkError, ReauthorizationRequired, TokenMissing
from ..http.links import api_link
from ..token import ClientCredentials, Token, TokenOrigin
from .config import ConfigError, Settings, StoreAbsent, open_store, redact_url
from .login import RedirectCatcher, browser_login, paste_login
from .render import Progress, table

__all__ = [
    "HTTP_METHODS",
    "DemoFailed",
    "api",
    "demo",
    "fake_server",
    "login",
    "logout",
    "token_new_key",
    "token_refresh",
    "token_status",
    "whoami",
]

#: What ``ffn-async api`` sends; anything else is a usage error, not a request.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: OData system query options, which the API spells with a leading ``$``.
_ODATA_OPTIONS = frozenset(
    {"top", "skip", "filter", "orderby", "select", "expand", "count", "search", "skiptoken"}
)
#: How every Fernet token (an encrypted record) begins: version byte 0x80, base64-encoded.
_FERNET_PREFIX = b"gAAAAA"


class DemoFailed(Exception):
    """The demo finished but lost or duplicated an order, or reused a token (exit code 4)."""


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@asynccontextmanager
async def _manager(settings: Settings, *, create: bool = False) -> AsyncIterator[TokenManager]:
    """A TokenManager on the configured store; only ``create`` (a login) makes a new store."""
    settings.credentials()  # fail before touching the store
    try:
        store = await open_store(settings.store_url, settings.token_keys, create=create)
    except StoreAbsent:
        raise TokenMissing(settings.account) from None
    async with _managing(settings, store, settings.token_manager) as auth:
        yield auth


@asynccontextmanager
async def _reader(settings: Settings) -> AsyncIterator[TokenManager]:
    """A TokenManager that only reads or deletes the record: no OAuth client needed."""
    store = await open_store(settings.store_url, settings.token_keys, create=False)
    # The client is never used to read the store; placeholders keep FFN_CLIENT_ID optional.
    credentials = ClientCredentials(settings.client_id or "unset", "unused")

    def reading(store: TokenStore) -> TokenManager:
        return TokenManager(
            credentials, store, key=settings.account, environment=settings.environment
        )

    async with _managing(settings, store, reading) as auth:
        yield auth


@asynccontextmanager
async def _managing(
    settings: Settings, store: TokenStore, manager: Callable[[TokenStore], TokenManager]
) -> AsyncIterator[TokenManager]:
    """``manager(store)``, entered; an unreadable record is explained, and the store is closed
    at the end (also when the manager cannot be built)."""
    try:
        async with manager(store) as auth:
            try:
                yield auth
            except CorruptRecord as exc:
                await _explain_corrupt(settings, store, exc)
    finally:
        await store.close()


async def _explain_corrupt(settings: Settings, store: Any, exc: CorruptRecord) -> None:
    """Re-raise an unreadable record's error with what a CLI user can do about it."""
    record = await getattr(store, "inner", store).load(settings.account)
    encrypted = record is not None and record.data.startswith(_FERNET_PREFIX)
    account = f"the token of account {settings.account!r}"
    way_out = "or run `ffn-async logout` to delete it (`ffn-async login --force` replaces it)"
    if encrypted and not settings.token_keys:
        raise ConfigError(
            f"{account} is encrypted: set FFN_TOKEN_KEY or FFN_TOKEN_KEY_FILE (or "
            f"--token-key-file) to the key it was written with, {way_out}"
        ) from None
    if encrypted:
        text = (
            f"{account} cannot be decrypted with the key(s) in FFN_TOKEN_KEY / "
            f"FFN_TOKEN_KEY_FILE (another key, or tampered data); add the key it was written "
            f"with, {way_out}"
        )
    elif settings.token_keys:
        text = (
            f"{account} is stored unencrypted but an encryption key is set: unset "
            "FFN_TOKEN_KEY / FFN_TOKEN_KEY_FILE to read it, or run `ffn-async login --force` "
            "to replace it with an encrypted one"
        )
    else:
        text = f"{exc} Run `ffn-async logout` to delete it, or `ffn-async login --force`."
    raise CorruptRecord(text) from exc


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[FFNClient]:
    async with _manager(settings) as auth, FFNClient(auth) as ffn:
        yield ffn


async def login(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async login``: browser login; the token lands in the store.

    The store is read first: an unreadable record would only be found after the person
    approved the access in the browser. ``--force`` deletes such a record before the login.
    """
    if args.paste:
        catcher = None
    else:
        try:
            catcher = RedirectCatcher(settings.redirect_uri)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    async def show(url: str) -> None:
        # With --json, stdout holds only the result; the person reads the URL on stderr.
        out = sys.stderr if args.json else sys.stdout
        print(
            f"Open this URL in a browser to log in to FFN ({settings.environment.name}):", file=out
        )
        print(f"  {url}", file=out, flush=True)
        if not args.no_browser:
            await asyncio.to_thread(webbrowser.open, url)
        if catcher is not None:
            print(f"Waiting for the redirect to {catcher.redirect_uri} ...", file=sys.stderr)

    def show_for_paste(url: str) -> None:
        out = sys.stderr if args.json else sys.stdout
        print(
            f"Open this URL in a browser, on any machine, to log in to FFN "
            f"({settings.environment.name}):",
            file=out,
        )
        print(f"  {url}", file=out, flush=True)
        print(
            f"After you approve, the browser is sent to {settings.redirect_uri}?code=... "
            "(the page may fail to load: that is expected).\n"
            "Paste that whole address here (or just the code) and press Enter:",
            file=sys.stderr,
            flush=True,
        )

    async with _manager(settings, create=True) as auth:
        try:
            await auth.stored()
        except CorruptRecord:
            if not args.force:
                raise
            await auth.store.delete(settings.account)
            print(
                f"--force: deleted the unreadable record of account {settings.account!r}",
                file=sys.stderr,
            )
        if catcher is None:
            token = await paste_login(
                auth, settings.scopes, show_for_paste, _read_line, timeout=args.timeout
            )
        else:
            async with catcher:
                token = await browser_login(
                    auth, catcher, settings.scopes, show, timeout=args.timeout
                )
    if args.json:
        _print_json(
            {
                "account": settings.account,
                "store": redact_url(settings.store_url),
                "scopes": list(token.scopes) if token.scopes is not None else None,
                "expires_in": round(token.expires_in()),
            }
        )
        return 0
    scopes = " ".join(token.scopes or ()) or "unknown"
    print(f"Logged in: account {settings.account!r} stored in {redact_url(settings.store_url)}")
    print(f"  scopes: {scopes}; access token valid for {token.expires_in():.0f}s")
    return 0


async def logout(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async logout`` / ``token delete``: remove the account's record from the store.

    Works on an unreadable record too; the OAuth client is not needed.
    """
    try:
        # The store as it is, without decryption: an unreadable record can be deleted too.
        store = await open_store(settings.store_url, create=False)
    except StoreAbsent:
        record = None
    else:
        try:
            record = await store.load(settings.account)
            if record is not None:
                await store.delete(settings.account)
        finally:
            await store.close()
    deleted = record is not None
    if args.json:
        _print_json(
            {
                "account": settings.account,
                "store": redact_url(settings.store_url),
                "deleted": deleted,
            }
        )
    elif deleted:
        print(f"Deleted the token of account {settings.account!r} from the store.")
    else:
        print(f"No token stored for account {settings.account!r}; nothing to delete.")
    return 0


async def whoami(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async whoami``: the FFN user behind the stored token."""
    async with _client(settings) as ffn:
        user = await ffn.shared.users.current()
    if args.json:
        # The command's own JSON is snake_case throughout (only `api` prints FFN's answers).
        _print_json(attrs.asdict(user))
    else:
        print(f"{user.user_id} ({user.role or 'unknown role'}) on {settings.environment.name}")
    return 0


def _describe(settings: Settings, stored: StoredToken, show_secrets: bool) -> dict[str, Any]:
    token = stored.token
    info: dict[str, Any] = {
        "account": settings.account,
        "environment": settings.environment.name,
        # The configured environment, the one calls go to; "issued for" is the token's own.
        "environment_from": settings.environment_from,
        "store": redact_url(settings.store_url),
        "encrypted": bool(settings.token_keys),
        "version": stored.version,
        "rotation": stored.rotation,
        "reauthorization_required": stored.reauthorization_required,
    }
    if token is not None:
        info |= {
            "issued_for": _issued_for(token.issued_for),
            "expires_at": dt.datetime.fromtimestamp(token.expires_at, dt.UTC).isoformat(),
            "expires_in": round(token.expires_in()),
            "expired": token.is_expired(),
            "scopes": list(token.scopes) if token.scopes is not None else None,
            "access_token": token.access_token if show_secrets else f"<{token.fingerprint}>",
            "refresh_token": (
                token.refresh_token
                if show_secrets
                else ("<redacted>" if token.refresh_token else None)
            ),
        }
    return info


def _issued_for(origin: TokenOrigin | None) -> str:
    """Where the token came from, as ``token status`` shows it: ``production``, ``sandbox``, or
    the environment's name and API URL (a fake server, a proxy)."""
    if origin is None:  # records before 0.2.0 did not say; nor does a token stored by hand
        return "unknown (saved by 0.1.0 or stored by hand)"
    for known in (Environment.PRODUCTION, Environment.SANDBOX):
        if origin == TokenOrigin.of(known):
            return known.name
    return f"{origin.environment} ({origin.api_url})"


async def token_status(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async token status``: what the store holds (secrets only with --show-secrets).

    Only reads: it needs no OAuth client and creates no store where there is none.
    """
    try:
        async with _reader(settings) as auth:
            stored = await auth.stored()
    except StoreAbsent:
        raise TokenMissing(settings.account) from None
    if stored.token is None and not stored.reauthorization_required:
        raise TokenMissing(settings.account)
    info = _describe(settings, stored, args.show_secrets)
    if args.json:
        _print_json(info)
    else:
        rows = [(k.replace("_", " "), _text(v)) for k, v in info.items()]
        print(table(rows, title="token"))
    if stored.reauthorization_required:
        raise ReauthorizationRequired(settings.account, stored.reauthorization_required)
    return 0


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


async def token_refresh(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async token refresh``: rotate the token now."""
    async with _manager(settings) as auth:
        token: Token = await auth.refresh()
        stored = await auth.stored()
    if args.json:
        _print_json(
            {
                "account": settings.account,
                "rotation": stored.rotation,
                "version": stored.version,
                "access_token": f"<{token.fingerprint}>",
                "expires_in": round(token.expires_in()),
            }
        )
        return 0
    print(
        f"Refreshed account {settings.account!r}: rotation {stored.rotation}, access token "
        f"<{token.fingerprint}> valid for {token.expires_in():.0f}s"
    )
    return 0


async def _read_line() -> str:
    """One line of stdin, read in a thread (the event loop keeps running meanwhile)."""
    return await asyncio.to_thread(sys.stdin.readline)


def _refresh_token_from(args: argparse.Namespace) -> Token:
    """The refresh token ``token import`` was given (a file, else stdin), as a login whose
    access token is already expired: the first use refreshes it, which validates it."""
    text = Path(args.file).read_text() if args.file else sys.stdin.read()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        where = args.file or "stdin"
        raise ConfigError(f"expected one refresh token on {where}, found {len(lines)} lines")
    try:
        # Validated as a token endpoint's answer would be (characters, length).
        token = Token.from_response({"access_token": "imported", "refresh_token": lines[0]})
    except ValueError as exc:
        raise ConfigError(f"not a refresh token: {exc}") from None
    return attrs.evolve(token, expires_at=0.0, issued_at=None)


async def token_import(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async token import``: store a refresh token (from CI secrets, another tool) as the
    account's login, then refresh it at once: a refused token is reported now, not at the
    first call, and the one imported is spent (only the store's rotated chain lives on)."""
    # For the configured environment: the refresh below replaces it with the issued token.
    imported = attrs.evolve(
        _refresh_token_from(args), issued_for=TokenOrigin.of(settings.environment)
    )
    async with _manager(settings, create=True) as auth:
        await auth.store_token(imported)
        token: Token = await auth.refresh()
        stored = await auth.stored()
    if args.json:
        _print_json(
            {
                "account": settings.account,
                "store": redact_url(settings.store_url),
                "rotation": stored.rotation,
                "scopes": list(token.scopes) if token.scopes is not None else None,
                "expires_in": round(token.expires_in()),
            }
        )
        return 0
    scopes = " ".join(token.scopes or ()) or "unknown"
    print(
        f"Imported: account {settings.account!r} stored in {redact_url(settings.store_url)}, "
        "refreshed once"
    )
    print(f"  scopes: {scopes}; access token valid for {token.expires_in():.0f}s")
    return 0


async def token_new_key(args: argparse.Namespace) -> int:
    """``ffn-async token new-key``: print a new Fernet key for FFN_TOKEN_KEY (or a key file)."""
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        raise ConfigError(
            "encryption needs the 'cryptography' package: pip install 'ffn-async[crypto]'"
        ) from None
    print(Fernet.generate_key().decode())
    return 0


def _params(pairs: list[str]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param expects key=value, got {pair!r}")
        if key.lower() in _ODATA_OPTIONS:
            raise ConfigError(
                f"--param {key}=...: OData options start with $; write --param '${key}={value}'"
                " (single quotes keep the shell from expanding $)"
            )
        params.setdefault(key, []).append(value)
    return params


def _body(data: str | None) -> Any:
    if data is None:
        return None
    if data == "-":
        text = sys.stdin.read()
    elif data.startswith("@"):
        try:
            text = Path(data[1:]).read_text()
        except OSError as exc:
            raise ConfigError(f"--data {data}: {exc.strerror}") from None
    else:
        text = data
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"--data is not valid JSON: {exc}") from None


def _check_origin(path: str, api_url: URL) -> None:
    """Refuse a PATH that is a URL of another origin, as the library refuses such links."""
    try:
        api_link(path, api_url, relative=True)
    except ForeignLinkError:
        raise ConfigError(
            f"PATH {path.partition('?')[0]!r} is not on the API's origin {api_url.origin()}, "
            "the only one the token is sent to; give a path relative to the API, e.g. "
            "/v1/users/current"
        ) from None


async def api(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async api METHOD PATH``: one raw call through the client's pipeline."""
    path: str = args.path
    if path.startswith("/api/v"):  # pasted from the spec, which includes the /api base
        path = path.removeprefix("/api")
    _check_origin(path, settings.environment.api_url)
    body = _body(args.data)
    params = _params(args.param or [])
    async with _client(settings) as ffn:
        result = await ffn.request(args.method, path, params=params or None, json=body)
    if result is not None:
        _print_json(result)
    return 0


async def demo(args: argparse.Namespace) -> int:
    """``ffn-async demo``: the order-sync job against the bundled fake server."""
    from .demo import DemoOptions, run_demo

    options = DemoOptions(
        orders=args.orders,
        concurrency=args.concurrency,
        token_lifetime=args.token_lifetime,
        seed=args.seed,
    )
    bar = Progress(enabled=args.progress)
    print(
        f"ffn-async demo: {options.orders} orders, {options.concurrency} at a time, tokens "
        f"expiring every {options.token_lifetime:g}s, faults injected (429, 503, dropped).",
        file=sys.stderr,
    )

    def report(phase: str, done: int, total: int) -> None:
        bar.update(done, total, phase, force=done == total)

    try:
        summary = await run_demo(options, report)
    finally:
        bar.close()
    if args.json:
        _print_json(summary.as_dict())
    else:
        verdict = "OK" if summary.ok else "FAILED"
        print(table(summary.rows(), title=f"order sync against the fake FFN server: {verdict}"))
    if not summary.ok:
        raise DemoFailed("the demo failed its checks: " + "; ".join(summary.failed_checks()))
    return 0


async def fake_server(args: argparse.Namespace) -> int:
    """``ffn-async fake-server``: serve the fake FFN API until interrupted."""
    from ..testing.standalone import fake_from_args, serve

    try:
        await serve(fake_from_args(args), args.host, args.port)
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot serve on {args.host}:{args.port}: {exc.strerror}"
        ) from None
    return 0
