"""The feed consumer and the outbox refuse a lease that ends before the margin they keep for
their last write (they would never write), and accept one that is longer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ffn_async.ordersync.checkpoint import FeedConsumer
from ffn_async.ordersync.outbox import Outbox
from token_stores import MemoryTokenStore


def _consumer(**lease: float) -> Any:
    return FeedConsumer(MemoryTokenStore(), "products", lambda **_: None, key=str, **lease)


def _outbox(**lease: float) -> Any:
    return Outbox(MemoryTokenStore(), "acme", **lease)


@pytest.mark.parametrize("build", [_consumer, _outbox], ids=["feed consumer", "outbox"])
def test_a_lease_no_longer_than_its_commit_margin_is_refused(build: Callable[..., Any]) -> None:
    for margin in (5.0, 6.0):
        with pytest.raises(ValueError, match="commit_margin must be shorter than lease_ttl"):
            build(lease_ttl=5.0, commit_margin=margin)
    held = build(lease_ttl=5.0, commit_margin=4.0)
    assert (held.lease_ttl, held.commit_margin) == (5.0, 4.0)
