"""Run the fake FFN server on its own: ``python -m ffn_async.testing --port 8080``."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence

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
    add("--port", type=int, default=8080, help="port, 0 for a free one (default: %(default)s)")
    add("--client-id", default="test-client", help="accepted OAuth client id")
    add("--client-secret", default="test-secret", help="accepted OAuth client secret")
    # The default is `ffn-async login`'s, so the two work together as they are.
    add(
        "--redirect-uri",
        default="http://127.0.0.1:8765/callback",
        help="registered redirect URI (default: %(default)s, the one `ffn-async login` uses)",
    )
    add("--token-lifetime", type=float, default=1800.0, help="access token seconds")
    add("--token-latency", type=float, default=0.0, help="seconds each refresh answer waits")
    add("--auto-ship-after", type=float, default=None, help="ship outbounds after N seconds")
    add("--rate-limit", type=float, default=0.0, help="share of API requests answered 429")
    add("--unavailable", type=float, default=0.0, help="share answered 503 with HTML")
    add("--drop", type=float, default=0.0, help="share of connections dropped unanswered")
    add("--seed", type=int, default=0, help="RNG seed for the faults")
    return parser


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
