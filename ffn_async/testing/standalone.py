"""Run the fake FFN server on its own: ``python -m ffn_async.testing --port 8080``.

Every option is checked as it is parsed: a share outside 0..1, a negative time or a port
above 65535 is a usage error naming the option, not a failure of the running server.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shlex
import sys
from collections.abc import Callable, Sequence

from .faults import Faults
from .server import FakeFFN

__all__ = ["build_parser", "fake_from_args", "main", "serve"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (shared with ``ffn-async fake-server``)."""
    parser = argparse.ArgumentParser(
        prog="python -m ffn_async.testing",
        description="Serve a fake JTL-FFN API and OAuth server on loopback, for tests and demos.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    add("--port", type=_port, default=8080, help="port, 0 for a free one (default: %(default)s)")
    add("--client-id", default="test-client", help="accepted OAuth client id")
    add("--client-secret", default="test-secret", help="accepted OAuth client secret")
    # The default is `ffn-async login`'s, so the two work together as they are.
    add(
        "--redirect-uri",
        default="http://127.0.0.1:8765/callback",
        help="registered redirect URI (default: %(default)s, the one `ffn-async login` uses)",
    )
    add("--token-lifetime", type=_seconds(zero=False), default=1800.0, help="access token seconds")
    add("--token-latency", type=_seconds(), default=0.0, help="seconds each refresh answer waits")
    add("--auto-ship-after", type=_seconds(), default=None, help="ship outbounds after N seconds")
    add("--rate-limit", type=_share, default=0.0, help="share of API requests answered 429, 0-1")
    add("--unavailable", type=_share, default=0.0, help="share answered 503 with HTML, 0-1")
    add("--drop", type=_share, default=0.0, help="share of connections dropped unanswered, 0-1")
    add("--seed", type=int, default=0, help="RNG seed for the faults")
    return parser


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _share(text: str) -> float:
    """A share of requests: 0 (never) to 1 (always)."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value


def _seconds(*, zero: bool = True) -> Callable[[str], float]:
    """Seconds: not negative, and above 0 unless ``zero``."""

    def parse(text: str) -> float:
        value = _number(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(
                f"must be {'0 or more' if zero else 'greater than 0'} seconds, got {text}"
            )
        return value

    parse.__name__ = "seconds"  # argparse names the type in its messages
    return parse


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text!r}")
    return int(text)


def fake_from_args(args: argparse.Namespace) -> FakeFFN:
    """A :class:`FakeFFN` configured from parsed :func:`build_parser` options."""
    return FakeFFN(
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
        token_lifetime=args.token_lifetime,
        token_latency=args.token_latency,
        auto_ship_after=args.auto_ship_after,
        faults=Faults(
            rate_limit=args.rate_limit, unavailable=args.unavailable, drop=args.drop, seed=args.seed
        ),
    )


async def serve(fake: FakeFFN, host: str, port: int) -> None:
    """Serve until cancelled, printing where (counters at ``GET /_fake/stats``)."""
    async with fake.run(host, port) as env:
        print(f"fake FFN serving: api {env.api_url}", flush=True)
        print(f"  authorize {env.authorize_url}  token {env.token_url}", flush=True)
        print(f"  client id {fake.oauth.client_id!r}; counters at /_fake/stats", flush=True)
        print("To use it with `ffn-async login` from another shell, paste:", flush=True)
        settings = {
            "FFN_ENVIRONMENT": "custom",
            "FFN_API_URL": str(env.api_url),
            "FFN_AUTHORIZE_URL": str(env.authorize_url),
            "FFN_TOKEN_URL": str(env.token_url),
            "FFN_CLIENT_ID": fake.oauth.client_id,
            "FFN_CLIENT_SECRET": fake.oauth.client_secret,  # the fake's, not a real secret
            "FFN_ACCOUNT": "fake",  # keeps the fake's token apart from a real login
        }
        if fake.oauth.redirect_uri is not None:
            settings["FFN_REDIRECT_URI"] = fake.oauth.redirect_uri
        for name, value in settings.items():
            print(f"  export {name}={shlex.quote(value)}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(serve(fake_from_args(args), args.host, args.port))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
