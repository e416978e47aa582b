"""Exactly-once order sync on top of the client: change feeds and creates that survive crashes.

:mod:`~ffn_async.ordersync.checkpoint` consumes change feeds with a durable checkpoint and a
lease per feed (:class:`FeedConsumer`, :func:`sweep` for a fleet of them);
:mod:`~ffn_async.ordersync.outbox` keeps creates that cannot be sent now and replays each
exactly once (:class:`Outbox`). Both keep their records in a :class:`token_stores.TokenStore`;
safe creates themselves live with the API (:mod:`ffn_async.api.creates`).
"""

from __future__ import annotations

from .checkpoint import Batch, Checkpoint, FeedConsumer, FeedSource, LeaseLost, Sweep, sweep
from .outbox import EntryState, Kept, Outbox, OutboxEntry, OutboxStats, ReplayReport, keeps

__all__ = [
    "Batch",
    "Checkpoint",
    "EntryState",
    "FeedConsumer",
    "FeedSource",
    "Kept",
    "LeaseLost",
    "Outbox",
    "OutboxEntry",
    "OutboxStats",
    "ReplayReport",
    "Sweep",
    "keeps",
    "sweep",
]
