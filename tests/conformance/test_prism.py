"""Every operation of both specs through its typed method against Stoplight Prism, a mock
server nobody here wrote.

Our fake server and our generators read the same specs, so a misreading shows on both sides
and no other test can see it. Prism validates each request against the spec and answers with
bodies made from it (``--errors``: a request or an answer that breaks the spec becomes a
problem answer, never a silent pass). Per API, one Prism serves the static examples and three
serve ``-d`` dynamic bodies (seeds 1-3). Against the static one, every method (twins included)
is called in every request variant of :mod:`tests.conformance.calls` (all fields, required
only, spec-allowed nulls; ids such as ``ORDER 1/ä+%#?``) and every documented error status is
asked for (``Prefer: code=…``) and must raise its typed error with the example's FFN code;
against the dynamic ones every operation's method is called with all fields.

Required: no request violates the spec; every spec-valid answer decodes. The spec oddities
that made Prism refuse its own answers are handled in :mod:`tests.conformance.oddities`, the
one place that says how and why. The per-API summary (requests valid N/N, answers decoded N/N)
is printed at the end of the run (``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from ffn_async import Environment, FFNClient, StaticToken, errors
from ffn_async.api import OPERATIONS, Operation
from ffn_async.retry import NO_RETRY

from .calls import VARIANTS, Recorder, call
from .oddities import SPEC_FILES, prism_document
from .prism import PrismServer, prism_binary
from .summary import RESULTS

APIS = tuple(SPEC_FILES)
SEEDS = (None, 1, 2, 3)  # None: static examples
SCOPES = ("ffn.fulfiller.read", "ffn.fulfiller.write", "ffn.merchant.read", "ffn.merchant.write")


@pytest.fixture(scope="module")
def prism() -> Iterator[dict[tuple[str, int | None], PrismServer]]:
    """Every Prism of the lane, started together (they take seconds to read a spec)."""
    binary = prism_binary()
    documents = {api: prism_document(api)[0] for api in APIS}
    servers = {
        (api, seed): PrismServer(documents[api], seed=seed) for api in APIS for seed in SEEDS
    }
    try:
        for server in servers.values():
            server.start(binary)
        for server in servers.values():
            server.wait()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


_NO_ANSWER: dict[str, Any] = {
    "method": "",
    "url": "",
    "template": "",
    "content": b"",
    "headers": {},
}


def _client(
    server: PrismServer, session: aiohttp.ClientSession | None, trace: Recorder | None
) -> FFNClient:
    """A client of ``server``; ``session`` (the error pass's, asking Prism for an error) or
    ``trace`` (recording every exchange) for the client's own session. Safe creates only on
    the client's own session: a documented 423 would make a safe create wait and look."""
    environment = Environment(
        api_url=server.api_url,
        authorize_url="http://127.0.0.1:9/authorize",  # never called: a static token
        token_url="http://127.0.0.1:9/token",
        name="prism",
    )
    return FFNClient(
        StaticToken("prism-access-token", scopes=SCOPES),
        environment=environment,
        retry=NO_RETRY,
        session=session,
        trace_configs=[trace.trace_config()] if trace else None,
        safe_creates=session is None,
    )


@dataclass
class Failure:
    what: str
    error: str


def _operations(api: str) -> list[Operation]:
    return [op for op in OPERATIONS.values() if op.api == api]


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: "static" if s is None else f"seed{s}")
@pytest.mark.parametrize("api", APIS)
async def test_every_operation_is_valid_and_decodes(
    api: str, seed: int | None, prism: dict[tuple[str, int | None], PrismServer]
) -> None:
    server = prism[api, seed]
    recorder = Recorder()
    failures: list[Failure] = []
    tally = RESULTS.setdefault(api, {"requests": 0, "valid": 0, "answers": 0, "decoded": 0})
    async with _client(server, None, recorder) as ffn:
        for op in _operations(api):
            names = (op.python, *op.also) if seed is None else (op.python,)
            variants = VARIANTS if seed is None else ("full",)
            for name in names:
                for variant in variants:
                    if variant == "nulls" and op.request_model is None:
                        continue
                    first = len(recorder.exchanges)
                    error: BaseException | None = None
                    try:
                        await call(ffn, op, name, variant)
                    except Exception as exc:  # every failure is reported below, with its call
                        error = exc
                    exchanges = recorder.exchanges[first:]
                    what = f"{name} ({variant}, {server.mode})"
                    bad_requests = [e for e in exchanges if e.located("request")]
                    tally["requests"] += len(exchanges)
                    tally["valid"] += len(exchanges) - len(bad_requests)
                    for exchange in bad_requests:
                        failures.append(
                            Failure(
                                what, f"request violates the spec: {exchange.located('request')}"
                            )
                        )
                    answer_ok = bool(exchanges) and all(
                        e.status < 400 and not e.violations for e in exchanges
                    )
                    if answer_ok:
                        tally["answers"] += 1
                        tally["decoded"] += error is None
                    if error is not None and not bad_requests:
                        failures.append(Failure(what, f"{type(error).__name__}: {error}"))
    assert not failures, "\n".join(f"{f.what}: {f.error}" for f in failures)


def _documented_errors(document: dict[str, Any], op: Operation) -> dict[int, str | None]:
    """The error statuses the spec documents for ``op``, each with its example's FFN code."""
    found: dict[int, str | None] = {}
    for path, item in document["paths"].items():
        operation = item.get(op.method.lower())
        if path.removeprefix("/api") != op.path or operation is None:
            continue
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            codes = [
                example.get("value", {}).get("errorCode", {}).get("code")
                for media in response.get("content", {}).values()
                for example in media.get("examples", {}).values()
            ]
            found[int(status)] = codes[0] if codes else None
    return found


@pytest.mark.parametrize("seed", SEEDS[:2], ids=lambda s: "static" if s is None else f"seed{s}")
@pytest.mark.parametrize("api", APIS)
async def test_every_documented_error_raises_its_typed_error(
    api: str, seed: int | None, prism: dict[tuple[str, int | None], PrismServer]
) -> None:
    """``Prefer: code=<status>`` makes Prism answer with a documented error: the example
    (static) or a body made from ``ErrorResponse`` (dynamic). The typed method raises that
    status's error class, carrying the example's FFN error code where there is one."""
    server = prism[api, seed]
    documented = {op.id: _documented_errors(server.document, op) for op in _operations(api)}
    failures: list[Failure] = []
    statuses = sorted({s for found in documented.values() for s in found})
    tally = RESULTS.setdefault(api, {"requests": 0, "valid": 0, "answers": 0, "decoded": 0})
    for status in statuses:
        recorder = Recorder()
        expected_type = type(errors.error_for_status(status, **_NO_ANSWER))
        async with (
            aiohttp.ClientSession(
                headers={"Prefer": f"code={status}"}, trace_configs=[recorder.trace_config()]
            ) as session,
            _client(server, session, None) as ffn,
        ):
            for op in _operations(api):
                if status not in documented[op.id]:
                    continue
                code = documented[op.id][status] if seed is None else None
                first = len(recorder.exchanges)
                what = f"{op.python} (error {status})"
                try:
                    await call(ffn, op, op.python, "full")
                except errors.ApiError as exc:
                    exchanges = recorder.exchanges[first:]
                    tally["requests"] += len(exchanges)
                    tally["valid"] += sum(not e.located("request") for e in exchanges)
                    if any(e.violations for e in exchanges):
                        failures.append(Failure(what, f"violations: {exchanges[-1].violations}"))
                        continue
                    tally["answers"] += 1
                    if exc.status != status or type(exc) is not expected_type:
                        failures.append(Failure(what, f"raised {type(exc).__name__} {exc.status}"))
                    elif code is not None and str(exc.code) != code:
                        failures.append(Failure(what, f"code {exc.code!r}, example has {code!r}"))
                    else:
                        tally["decoded"] += 1
                except Exception as exc:
                    failures.append(Failure(what, f"{type(exc).__name__}: {exc}"))
                else:
                    failures.append(Failure(what, "no error raised"))
    assert not failures, "\n".join(f"{f.what}: {f.error}" for f in failures)
