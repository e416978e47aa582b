"""Structured fields on every library log record: operation, status, attempt, account.

JSON and structlog handlers read a record's attributes; ours carry ``ffn_operation``
(``"<api>.<operationId>"``, else the path template), ``ffn_status`` (the answer's HTTP status),
``ffn_attempt`` (from 1), ``ffn_account`` (the TokenManager's key), and ``ffn_outbox`` /
``ffn_feed`` where relevant. Every field is present on every record of the library's loggers,
``None`` when unknown, so a format string may name them.

Where they come from: a log call that knows them passes them with ``extra=`` (the request
pipeline's lines about an attempt do); a token refresh runs in a task whose context holds the
account key (:func:`account_context`), so every record of the refresh names the account without
each call site saying so. :class:`LogFields`, a :class:`logging.Filter` that :func:`logger`
attaches to each library logger, fills in the account from that context and ``None`` for the
rest. Nothing global (``setLogRecordFactory``) is touched.

Why not a context variable set per request, which would give every record the operation for
free: its ``set`` and ``reset`` cost about 15,000 instructions on a ~380,000-instruction tiny
request (benchmark case 9), for records that are rare. Only a traced client pays that
(:mod:`ffn_async.observe.tracing`).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Final

__all__ = ["FIELDS", "LogFields", "account_context", "account_of", "logger"]

#: The attribute names, in the order a formatter would likely show them.
FIELDS: Final = (
    "ffn_operation",
    "ffn_status",
    "ffn_attempt",
    "ffn_account",
    "ffn_outbox",
    "ffn_feed",
)

#: The account whose token the current task refreshes or stores.
_account: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ffn_async_account", default=None
)


def account_context(key: str) -> contextvars.Context:
    """A copy of the current context with ``key`` as the account: for a task that works for
    one account (``loop.create_task(..., context=account_context(key))``)."""
    context = contextvars.copy_context()
    context.run(_account.set, key)
    return context


def account_of(client: object) -> str | None:
    """The account a client works for (its TokenManager's key), for ``extra=`` of modules that
    take any :class:`~ffn_async.http._requester.Requester`; ``None`` for a static token or a
    stand-in."""
    key = getattr(client, "_account_key", None)
    return key if isinstance(key, str) else None


class LogFields(logging.Filter):
    """Gives each record every field: the context's account, ``None`` for what is unknown;
    a value passed with ``extra=`` is kept. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        attrs = record.__dict__
        if attrs.get("ffn_account") is None:
            attrs["ffn_account"] = _account.get()
        for name in FIELDS:
            attrs.setdefault(name, None)
        return True


_FILTER: Final = LogFields()


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the fields filter attached (once)."""
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log


# token_stores may not import ffn_async; its loggers get the filter from here, by name.
for _name in ("token_stores", "token_stores._private", "token_stores.redis", "token_stores.sql"):
    logger(_name)
