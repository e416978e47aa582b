"""Structured log fields (:mod:`ffn_async.observe._logfields`): every record of the library's
loggers carries ``ffn_operation``, ``ffn_status``, ``ffn_attempt``, ``ffn_account`` (and
``ffn_outbox``, ``ffn_feed``): the pipeline's lines pass them, a refresh's records get the account
from its task."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pytest

import ffn_async
import token_stores
from ffn_async import ClientCredentials, FFNClient, RetryPolicy, TokenManager
from ffn_async.observe._logfields import FIELDS, LogFields
from tests.http_mock import CallbackResult, aioresponses
from token_stores import MemoryTokenStore

from ..conftest import TEST_ENV, token_response

API = "https://api.ffn.test/api"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, jitter=lambda c: c)


def fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in FIELDS}


async def test_a_retried_typed_call_logs_its_operation_status_attempt_and_account(
    creds: ClientCredentials, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    auth = TokenManager(creds, MemoryTokenStore(), key="acct-7", environment=TEST_ENV)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        await auth.exchange_code("code-1")
        answers = iter([503, 503, 200])
        mock.get(
            f"{API}/v1/users/current",
            callback=lambda url, **kw: CallbackResult(
                status=(status := next(answers)), payload={"userId": "U"} if status == 200 else {}
            ),
            repeat=True,
        )
        caplog.set_level(logging.DEBUG, logger="ffn_async")
        async with FFNClient(auth, retry=FAST) as ffn:
            await ffn.shared.users.current()
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [fields(r) for r in retries] == [
        {
            "ffn_operation": "shared.UsersGetCurrent",
            "ffn_status": 503,
            "ffn_attempt": attempt,
            "ffn_account": "acct-7",
            "ffn_outbox": None,
            "ffn_feed": None,
        }
        for attempt in (1, 2)
    ]
    (answered,) = [r for r in caplog.records if "-> 200" in r.getMessage()]
    assert (answered.ffn_status, answered.ffn_attempt) == (200, 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize("through_client", [True, False], ids=["401-in-a-request", "alone"])
async def test_a_refresh_logs_its_account(
    creds: ClientCredentials, caplog: pytest.LogCaptureFixture, through_client: bool
) -> None:
    """A refresh's records name the account, whether a 401 in a request forced it or the
    TokenManager is used alone; no operation (one refresh serves every waiting request)."""
    auth = TokenManager(creds, MemoryTokenStore(), key="acct-9", environment=TEST_ENV)
    with aioresponses() as mock:
        mock.post(
            str(TEST_ENV.token_url),
            callback=lambda url, **kw: CallbackResult(payload=token_response()),
            repeat=True,
        )
        await auth.exchange_code("code-1")
        answers = iter([401, 200])
        mock.get(
            f"{API}/v1/users/current",
            callback=lambda url, **kw: CallbackResult(status=next(answers), payload={}),
            repeat=True,
        )
        caplog.set_level(logging.INFO, logger="ffn_async")
        if through_client:
            async with FFNClient(auth) as ffn:
                await ffn.request("GET", "/v1/users/current")
        else:
            await auth.refresh()
            await auth.aclose()  # the session it made for its token calls
    records = [r for r in caplog.records if r.name == "ffn_async.auth"]
    assert records, "a refresh logs at INFO"
    assert {r.ffn_account for r in records} == {"acct-9"}  # type: ignore[attr-defined]
    assert {r.ffn_operation for r in records} == {None}  # type: ignore[attr-defined]


async def test_explicit_extra_wins_and_records_outside_a_request_have_every_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("ffn_async")
    caplog.set_level(logging.INFO, logger="ffn_async")
    log.info("plain")
    log.info("explicit", extra={"ffn_outbox": "orders", "ffn_account": "mine"})
    plain, explicit = caplog.records[-2:]
    assert fields(plain) == dict.fromkeys(FIELDS)
    assert fields(explicit) == {
        **dict.fromkeys(FIELDS),
        "ffn_outbox": "orders",
        "ffn_account": "mine",
    }


def test_every_library_logger_has_the_filter() -> None:
    """A module that logs through ``logging.getLogger`` instead of ``_logfields.logger`` fails
    here: every logger a library module holds must carry the filter."""
    loggers: dict[str, logging.Logger] = {}
    for package in (ffn_async, token_stores):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.startswith(("ffn_async.testing", "ffn_async.cli", "ffn_async.__main__")):
                continue  # the fake server and the CLI are not the library (__main__ runs it)
            try:
                module = importlib.import_module(info.name)
            except ImportError:  # an optional extra not installed
                continue
            for value in vars(module).values():
                if isinstance(value, logging.Logger):
                    loggers[f"{info.name}: {value.name}"] = value
    assert len(loggers) >= 8
    missing = [
        n for n, lg in loggers.items() if not any(isinstance(f, LogFields) for f in lg.filters)
    ]
    assert not missing


def test_the_readme_format_string_formats_any_library_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="token_stores")
    logging.getLogger("token_stores.redis").warning("a store line")
    formatter = logging.Formatter("%(levelname)s %(ffn_operation)s #%(ffn_attempt)s %(message)s")
    assert formatter.format(caplog.records[-1]) == "WARNING None #None a store line"
