"""The ``ffn-async`` command: log in, inspect and refresh tokens, call the API, run the demo.

Exit codes: 0 success; 1 an API, auth, network or store error; 2 a usage or configuration
error; 3 the account needs a (new) login; 4 the demo detected a lost or duplicated order or a
refresh-token reuse; 130 interrupted. Errors are one line on stderr; the library's log is
shown only with ``-v`` (INFO) or ``--debug`` (DEBUG, with the traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from token_stores import StoreError, TokenStore

from ..auth.manager import TokenManager
from ..client import __version__
from ..errors import FFNError, ReauthorizationRequired, TokenMissing
from . import commands
from .completion import SHELLS, script
from .config import (
    ConfigError,
    add_options,
    add_output_options,
    open_store,
    settings_from,
    unknown_variables,
)
from .help import Parser

__all__ = ["EXIT_CODES", "ConfigError", "build_parser", "main", "open_account"]

EXIT_CODES = {
    0: "success",
    1: "API, authentication, network or token store error",
    2: "usage or configuration error",
    3: "the account needs a login: run `ffn-async login`",
    4: "the demo found a lost or duplicated order or a refresh-token reuse",
    130: "interrupted (Ctrl-C)",
}


_EPILOG = """\
examples:
  ffn-async demo                                   the main job against a bundled fake server
  export FFN_CLIENT_ID=... FFN_CLIENT_SECRET=... FFN_ENVIRONMENT=sandbox
  ffn-async login                                  browser login; the token is stored
  ffn-async whoami
  ffn-async token status
  ffn-async api GET /v1/merchant/outbounds --param '$top=5'
  ffn-async api POST /v1/merchant/products --data @product.json
  ffn-async outbox list                            creates kept while FFN could not take them
  ffn-async logout                                 delete the stored token
  ffn-async fake-server                            prints the FFN_* lines to use it
  eval "$(ffn-async completion bash)"              tab completion (also: zsh)

environment variables:
  FFN_CLIENT_ID, FFN_CLIENT_SECRET   the OAuth client of your FFN app (the secret: variable only)
  FFN_REDIRECT_URI                   registered redirect URI on loopback (http://127.0.0.1:8765/callback)
  FFN_ENVIRONMENT                    production (default), sandbox or custom
  FFN_API_URL, FFN_AUTHORIZE_URL, FFN_TOKEN_URL   the URLs of a custom environment
  FFN_ACCOUNT                        store key of the account (default)
  FFN_TOKEN_STORE                    token store URL (sqlite+aiosqlite:///..., file:///dir,
                                     redis://..., postgresql+asyncpg://..., mysql+asyncmy://...)
  FFN_TOKEN_KEY, FFN_TOKEN_KEY_FILE  encrypt the store: Fernet key(s), newest first, or a file
                                     holding them one a line (`ffn-async token new-key`)
  FFN_SCOPES                         scopes for login, separated by spaces or commas
                                     (ffn.merchant.read ffn.merchant.write)

exit codes:
""" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())


async def open_account() -> tuple[TokenStore, TokenManager]:
    """The store and :class:`TokenManager` that ``ffn-async`` uses, from the same ``FFN_*``
    variables and defaults (the default store, FFN_TOKEN_KEY encryption …): a script or
    service run after ``ffn-async login`` finds its token. Close the store when done.

    Raises :class:`ConfigError` naming the variable that is missing or wrong.
    """
    settings = settings_from(argparse.Namespace())
    settings.credentials()  # a missing FFN_CLIENT_ID/SECRET before touching the store
    store = await open_store(settings.store_url, settings.token_keys)
    return store, settings.token_manager(store)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ffn-async`` (account options go before or after the command)."""
    from ..testing.standalone import build_parser as fake_parser

    parser = Parser(
        prog="ffn-async",
        description="Command-line client for the JTL Fulfillment Network API.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"ffn-async {__version__}")
    add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        run: Callable[..., Coroutine[Any, Any, int]],
        help: str,
        *,
        account: bool = True,
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        """A subcommand; ``account`` ones get the account options and ``run(settings, args)``."""
        p = sub.add_parser(name, help=help, description=help, **kwargs)
        p.set_defaults(run=run, uses_account=account)
        if account:
            add_options(p)
        else:
            add_output_options(p)
        return p

    def json_flag(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--json", action="store_true", help=f"print {what} as JSON")

    p = command("login", commands.login, "log in through the browser and store the token")
    p.add_argument("--no-browser", action="store_true", help="only print the URL to open")
    p.add_argument(
        "--paste",
        action="store_true",
        help="on a server or in CI: print the URL, then read the address the browser was "
        "sent to (or the code) from stdin; no local port is opened",
    )
    p.add_argument(
        "--timeout", type=_positive(float), default=300.0, help="seconds to wait (%(default)g)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="delete an unreadable stored record first instead of stopping",
    )
    json_flag(p, "the result")
    json_flag(command("logout", commands.logout, "delete the stored token"), "the result")

    p = command("whoami", commands.whoami, "show the FFN user behind the stored token")
    p.add_argument("--json", action="store_true", help="print the user as JSON")

    token = sub.add_parser("token", help="inspect, refresh or delete the stored token")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    sub, outer = token_sub, sub
    p = command(
        "status", commands.token_status, "expiry, scopes, store, encryption, version, rotations"
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument(
        "--show-secrets", action="store_true", help="also print the access and refresh token"
    )
    json_flag(command("refresh", commands.token_refresh, "rotate the token now"), "the result")
    json_flag(command("delete", commands.logout, "delete the stored token (= logout)"), "it")
    p = command(
        "import",
        commands.token_import,
        "store a refresh token (stdin or --file) as the login, and refresh it once",
    )
    p.add_argument("--file", metavar="PATH", help="read the refresh token from this file")
    json_flag(p, "the result")
    command(
        "new-key",
        commands.token_new_key,
        "print a new encryption key for FFN_TOKEN_KEY",
        account=False,
    )
    sub = outer

    p = command(
        "api",
        commands.api,
        "call any API path; the JSON answer is pretty-printed",
        epilog="PATH is relative to the API base, e.g. /v1/merchant/outbounds/{id}.",
    )
    p.add_argument(
        "method",
        metavar="METHOD",
        type=str.upper,
        choices=commands.HTTP_METHODS,
        help=", ".join(commands.HTTP_METHODS),
    )
    p.add_argument("path", metavar="PATH", help="e.g. /v1/users/current")
    p.add_argument("--data", help="JSON body, @file to read it from a file, - for stdin")
    p.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="query parameter (repeatable)"
    )

    p = command(
        "fake-server",
        commands.fake_server,
        "serve the bundled fake FFN API and OAuth server on loopback",
        account=False,
        parents=[fake_parser()],
        conflict_handler="resolve",
    )

    p = command(
        "demo",
        commands.demo,
        "order-sync job against an in-process fake FFN server",
        account=False,
    )
    p.add_argument(
        "--orders", type=_positive(int), default=2000, help="outbounds to create (%(default)s)"
    )
    p.add_argument(
        "--concurrency", type=_positive(int), default=100, help="creates in flight (%(default)s)"
    )
    p.add_argument(
        "--token-lifetime",
        type=_positive(float, minimum=1.0),
        default=3.0,
        help="access token seconds, at least 1 (%(default)g)",
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the injected faults")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    from .outbox import register as register_outbox

    register_outbox(sub, add_options)
    p = command(
        "completion",
        _completion,
        'print a shell completion script: eval "$(ffn-async completion bash)"',
        account=False,
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help=" or ".join(SHELLS))
    return parser


async def _completion(args: argparse.Namespace) -> int:
    print(script(args.shell, build_parser()), end="")
    return 0


def _positive(
    kind: Callable[[str], int] | Callable[[str], float], minimum: float | None = None
) -> Callable[[str], Any]:
    """An argparse type: a number above zero (or at least ``minimum``), else a usage error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, ConfigError):
        return 2
    if isinstance(exc, ReauthorizationRequired | TokenMissing):
        return 3
    if isinstance(exc, commands.DemoFailed):
        return 4
    return 1


# Library messages name Python settings; a CLI user sets these instead.
_CLI_NAMES = {
    "Environment.token_url": "FFN_TOKEN_URL",
    "Environment.authorize_url": "FFN_AUTHORIZE_URL",
    "Environment.api_url": "FFN_API_URL",
    "of your ClientCredentials": "in FFN_CLIENT_ID and FFN_CLIENT_SECRET",
}


def _message(exc: BaseException) -> str:
    if isinstance(exc, TokenMissing):
        return f"no token stored for account {exc.key!r}; run `ffn-async login` first"
    text = " ".join(str(exc).split()) or type(exc).__name__
    for name, variable in _CLI_NAMES.items():
        text = text.replace(name, variable)
    if not isinstance(exc, FFNError | StoreError | ConfigError | OSError | commands.DemoFailed):
        text = f"unexpected {type(exc).__name__}: {text} (rerun with --debug for the traceback)"
    return text


def _show_library_log(level: int) -> Callable[[], None]:
    """Send the library's log records at ``level`` and above to stderr; return the undo.

    Without ``-v``/``--debug`` nothing is configured: the libraries' ``NullHandler`` keeps
    their retry notices and errors off the terminal, and the CLI prints each error once.
    """
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(asctime)s " if level <= logging.DEBUG else ""
    handler.setFormatter(logging.Formatter(fmt + "ffn-async: %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("ffn_async", "token_stores")]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
        logger.addHandler(handler)

    def undo() -> None:
        for logger, old in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(old)

    return undo


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ffn-async`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    for warning in unknown_variables():
        print(f"ffn-async: warning: {warning}", file=sys.stderr)
    debug = bool(getattr(args, "debug", False))
    verbose = bool(getattr(args, "verbose", False))
    undo = _show_library_log(logging.DEBUG if debug else logging.INFO) if debug or verbose else None
    try:
        work = args.run(settings_from(args), args) if args.uses_account else args.run(args)
        code: int = asyncio.run(work)
        return code
    except KeyboardInterrupt:
        print("ffn-async: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        code = _exit_code(exc)
        if getattr(args, "json", False):  # who asked for JSON parses the error too
            error = {"error": _message(exc), "type": type(exc).__name__, "exit_code": code}
            print(orjson.dumps(error).decode(), file=sys.stderr)
        else:
            print(f"ffn-async: error: {_message(exc)}", file=sys.stderr)
        return code
    finally:
        if undo is not None:
            undo()
