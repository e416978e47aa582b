"""Many accounts in one process: a login wave, then a refresh storm (tests and benchmarks).

``accounts`` accounts, one :class:`TokenManager` each, share one token store and one
``FFNClient`` session. Every account logs in at once (``store_token``), with a token that is
already due, so the first request of every account refreshes: the wave integrators see when
logins came in together and their tokens expire together.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs

from ffn_async import Environment, FFNClient, Token, TokenManager
from ffn_async.testing import OAuthServer
from token_stores import TokenStore

from .fleet import CREDS


@attrs.frozen
class WaveResult:
    """What one wave did: failures (first messages kept) and each request's latency."""

    login_failures: int
    request_failures: int
    errors: tuple[str, ...]
    latencies: tuple[float, ...]
    seconds: float


def _errors(outcomes: list[Any]) -> list[str]:
    return [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]


def due_tokens(oauth: OAuthServer, accounts: int) -> list[Token]:
    """One login per account, issued two hours ago: due for the client, its refresh token
    still live."""
    issued = time.time() - 7200
    return [Token.from_response(oauth.issue_tokens(), now=issued) for _ in range(accounts)]


async def run_wave(
    store: TokenStore,
    tokens: list[Token],
    env: Environment,
    *,
    prefix: str,
    requests: int = 1,
    manager_options: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
) -> WaveResult:
    """Log every account in at once (one per token), then send ``requests`` requests per
    account, all at once."""
    options = manager_options or {}
    managers = [
        TokenManager(CREDS, store, key=f"{prefix}{i}", environment=env, **options)
        for i in range(len(tokens))
    ]
    logins = await asyncio.gather(
        *(m.store_token(t) for m, t in zip(managers, tokens, strict=True)),
        return_exceptions=True,
    )
    clients = [FFNClient(m, **(client_options or {})) for m in managers]
    latencies: list[float] = []

    async def one(ffn: FFNClient) -> None:
        t0 = time.perf_counter()
        await ffn.request("GET", "/v1/users/current")
        latencies.append(time.perf_counter() - t0)

    began = time.perf_counter()
    try:
        outcomes = await asyncio.gather(
            *(one(c) for c in clients for _ in range(requests)), return_exceptions=True
        )
    finally:
        seconds = time.perf_counter() - began
        for ffn in clients:
            await ffn.aclose()
    login_errors, request_errors = _errors(logins), _errors(outcomes)
    return WaveResult(
        len(login_errors),
        len(request_errors),
        tuple((login_errors + request_errors)[:3]),
        tuple(sorted(latencies)),
        seconds,
    )


def fd_limited_wave(
    env: Environment, tokens: list[dict[str, Any]], open_files: int, requests: int, out: Any
) -> None:
    """Child process: under ``RLIMIT_NOFILE = open_files``, run a wave of one client per
    account, each built the default way (no ``session=``), on a memory store."""
    import resource

    from token_stores import MemoryTokenStore

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

    async def main() -> WaveResult:
        return await run_wave(
            MemoryTokenStore(),
            [Token.from_dict(t) for t in tokens],
            env,
            prefix="acct-",
            requests=requests,
        )

    try:
        out.put(attrs.asdict(asyncio.run(main())))
    except BaseException as exc:
        out.put({"crashed": f"{type(exc).__name__}: {exc}"})
        raise
