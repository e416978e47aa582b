"""What each ``ffn-async`` subcommand does, once its settings are resolved."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import webbrowser
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson

from ..auth import StoredToken, TokenManager
from ..client import FFNClient
from ..errors import ReauthorizationRequired, TokenMissing
from ..token import Token
from .config import ConfigError, Settings, open_store, redact_url
from .login import RedirectCatcher, browser_login
from .render import Progress, table

__all__ = [
    "DemoFailed",
    "api",
    "demo",
    "fake_server",
    "login",
    "token_refresh",
    "token_status",
    "whoami",
]


class DemoFailed(Exception):
    """The demo finished but lost or duplicated an order, or reused a token (exit code 4)."""


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@asynccontextmanager
async def _manager(
    settings: Settings, *, require_secret: bool = True
) -> AsyncIterator[TokenManager]:
    settings.credentials(require_secret=require_secret)  # fail before touching the store
    store = await open_store(settings.store_url)
    try:
        async with settings.token_manager(store, require_secret=require_secret) as auth:
            yield auth
    finally:
        await store.close()


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[FFNClient]:
    async with _manager(settings) as auth, FFNClient(auth) as ffn:
        yield ffn


async def login(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async login``: browser login; the token lands in the store."""
    try:
        catcher = RedirectCatcher(settings.redirect_uri)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    async def show(url: str) -> None:
        print(f"Open this URL in a browser to log in to FFN ({settings.environment.name}):")
        print(f"  {url}", flush=True)
        if not args.no_browser:
            await asyncio.to_thread(webbrowser.open, url)
        print(f"Waiting for the redirect to {catcher.redirect_uri} ...", file=sys.stderr)

    async with _manager(settings) as auth, catcher:
        token = await browser_login(auth, catcher, settings.scopes, show, timeout=args.timeout)
    scopes = " ".join(token.scopes or ()) or "unknown"
    print(f"Logged in: account {settings.account!r} stored in {redact_url(settings.store_url)}")
    print(f"  scopes: {scopes}; access token valid for {token.expires_in():.0f}s")
    return 0


async def whoami(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async whoami``: the FFN user behind the stored token."""
    async with _client(settings) as ffn:
        user = await ffn.shared.users.current()
    if args.json:
        from ..serialization import unstructure

        _print_json(unstructure(user))
    else:
        print(f"{user.user_id} ({user.role or 'unknown role'}) on {settings.environment.name}")
    return 0


def _describe(settings: Settings, stored: StoredToken, show_secrets: bool) -> dict[str, Any]:
    token = stored.token
    info: dict[str, Any] = {
        "account": settings.account,
        "environment": settings.environment.name,
        "store": redact_url(settings.store_url),
        "version": stored.version,
        "rotation": stored.rotation,
        "reauthorization_required": stored.reauthorization_required,
    }
    if token is not None:
        info |= {
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


async def token_status(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async token status``: what the store holds (secrets only with --show-secrets)."""
    async with _manager(settings, require_secret=False) as auth:
        stored = await auth.stored()
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
    print(
        f"Refreshed account {settings.account!r}: rotation {stored.rotation}, access token "
        f"<{token.fingerprint}> valid for {token.expires_in():.0f}s"
    )
    return 0


def _params(pairs: list[str]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param expects key=value, got {pair!r}")
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


async def api(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async api METHOD PATH``: one raw call through the client's pipeline."""
    path: str = args.path
    if path.startswith("/api/v"):  # pasted from the spec, which includes the /api base
        path = path.removeprefix("/api")
    body = _body(args.data)
    params = _params(args.param or [])
    async with _client(settings) as ffn:
        result = await ffn.request(args.method.upper(), path, params=params or None, json=body)
    if result is not None:
        _print_json(result)
    return 0


async def demo(args: argparse.Namespace) -> int:
    """``ffn-async demo``: the order-sync job against the bundled fake server."""
    from ..demo import DemoOptions, run_demo

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
        raise DemoFailed(
            f"the demo found {summary.lost} lost and {summary.duplicates} duplicated orders and "
            f"{summary.reuse_attempts} refresh-token reuses ({summary.shipped_seen} of "
            f"{summary.orders} seen shipped)"
        )
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
