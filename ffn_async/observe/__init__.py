"""Observability: typed events for metrics, structured log fields, and tracing spans.

:mod:`~ffn_async.observe.events` delivers one typed event per request attempt, retry, token
refresh, store call and lock wait to the observer you install; :mod:`~ffn_async.observe.tracing`
names OpenTelemetry spans by operation. It sits low: it imports nothing of the API or the
client, so every layer can report through it.
"""

from __future__ import annotations

from .events import (
    Event,
    LockWaitEvent,
    Observer,
    RefreshEvent,
    RequestEvent,
    RetryEvent,
    StoreEvent,
    notify,
    observed_store,
)

__all__ = [
    "Event",
    "LockWaitEvent",
    "Observer",
    "RefreshEvent",
    "RequestEvent",
    "RetryEvent",
    "StoreEvent",
    "notify",
    "observed_store",
]
