"""Structured fields on every library log record: operation, status, attempt, account.

JSON and structlog handlers read a record's attributes; ours carry ``ffn_operation``
(``"<api>.<operationId>"``, else the path template), ``ffn_status`` (the answer's HTTP status
where a call site knows it), ``ffn_attempt`` (from 1), ``ffn_account`` (the TokenManager's
key), and ``ffn_outbox`` / ``ffn_feed`` where relevant. Every field is present on every
record of the library's loggers, ``None`` when unknown, so a format string may name them.

How, without each of the ~40 call sites passing ``extra=``: the request pipeline puts the
request it is sending in a context variable (one ``set`` and one ``reset`` per request; the
attempt number rides on the request object), a TokenManager's refresh runs with its account
key in another, and :class:`LogFields`, a :class:`logging.Filter` on each of the library's
loggers (:func:`logger`), copies them onto the record when it is emitted. An operation id is
only looked up then, so a request that logs nothing pays for none of it. A value given with
``extra=`` wins over the context's. Nothing global (``setLogRecordFactory``) is touched.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from yarl import URL

__all__ = ["FIELDS", "LogFields", "account_context", "logger", "sending"]

#: The attribute names, in the order a formatter would likely show them.
FIELDS: Final = (
    "ffn_operation",
    "ffn_status",
    "ffn_attempt",
    "ffn_account",
    "ffn_outbox",
    "ffn_feed",
)


class Sending(Protocol):
    """What the filter (and :mod:`ffn_async.tracing`) read of the request being sent (the
    client's ``_Exchange``)."""

    url: URL
    template: str
    attempt: int
    account: str | None

    @property
    def operation(self) -> str:
        """``"<api>.<operationId>"``, else the path template (looked up when read)."""


#: The request the pipeline is sending in this context (set by ``FFNClient._send``).
sending: contextvars.ContextVar[Sending | None] = contextvars.ContextVar(
    "ffn_async_sending", default=None
)
#: The account whose token is being refreshed or stored (outside a client's request).
_account: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ffn_async_account", default=None
)


def account_context(key: str) -> contextvars.Context:
    """A copy of the current context with ``key`` as the account: for a task that works for
    one account (``loop.create_task(..., context=account_context(key))``)."""
    context = contextvars.copy_context()
    context.run(_account.set, key)
    return context


class LogFields(logging.Filter):
    """Copies the context's fields onto each record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        attrs = record.__dict__
        request = sending.get()
        if request is not None:
            if "ffn_operation" not in attrs:  # looked up now: silent requests pay nothing
                attrs["ffn_operation"] = request.operation
            attrs.setdefault("ffn_attempt", request.attempt)
            if request.account is not None:
                attrs.setdefault("ffn_account", request.account)
        if "ffn_account" not in attrs:
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
