"""What the generated blocking namespaces (``merchant.py``, ``fulfiller.py``, ``shared.py``) share.

Each generated method is one line handing the async method of the same name to the facade:
:meth:`~ffn_async.blocking.BlockingClient.run` for a call,
:meth:`~ffn_async.blocking.BlockingClient.iterate` for ``iterate`` (a plain iterator), and
:class:`Walk` for change feeds and chunked lists, whose walk object holds what a caller needs
after the loop (a feed's watermark ``to``, a snapshot's ``date``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from ..client import FFNClient

__all__ = ["BlockingNamespace", "Facade", "Walk"]

T = TypeVar("T")
W = TypeVar("W", bound=AsyncIterable[object])


class Facade(Protocol):
    """What a namespace needs of :class:`~ffn_async.blocking.BlockingClient` (so that the
    namespaces do not import the facade that imports them)."""

    @property
    def client(self) -> FFNClient: ...

    def run(self, call: Callable[[FFNClient], Awaitable[T]]) -> T: ...

    def iterate(self, call: Callable[[FFNClient], AsyncIterable[T]]) -> Iterator[T]: ...


class BlockingNamespace:
    """A blocking namespace: calls go through the facade it belongs to."""

    def __init__(self, facade: Facade) -> None:
        self._facade = facade


class Walk(Generic[W, T]):
    """An async walk (a :class:`~ffn_async.api.pagination.ChangeFeed` or
    :class:`~ffn_async.api.pagination.ChunkedList`) iterated from sync code.

    ``for obj in walk`` fetches in the facade's loop, chunk by chunk; :attr:`walk` is the async
    object itself, for its attributes once the loop is done (``feed.walk.to``, the watermark to
    checkpoint; ``listing.walk.date``)."""

    def __init__(self, facade: Facade, walk: W) -> None:
        self._facade = facade
        self.walk: W = walk
        """The async walk object (read its attributes; iterate this wrapper instead)."""

    def __iter__(self) -> Iterator[T]:
        walk: AsyncIterable[T] = self.walk  # type: ignore[assignment]  # W iterates T
        return self._facade.iterate(lambda _client: walk)

    def __repr__(self) -> str:
        return f"Walk({self.walk!r})"
