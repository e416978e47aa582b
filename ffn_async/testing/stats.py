"""Counters the fake server keeps so tests can assert on what a client did."""

from __future__ import annotations

from collections import Counter

import attrs

__all__ = ["FakeStats"]


@attrs.define
class FakeStats:
    """What reached the fake server, counted as it happened.

    Token endpoint: ``token_requests`` (every POST /token), ``code_exchanges`` and ``refreshes``
    (successful grants), ``reuse_attempts`` (an already-used refresh token came back),
    ``invalid_grants``, ``invalid_clients``; ``rotations`` counts successful refreshes per token
    family (one family per login). API: ``requests`` per ``"METHOD /route/template"``,
    ``faults`` per injected kind, ``outbound_creates`` per ``merchantOutboundNumber`` (every
    processed create, rejected duplicates included: a value above 1 means the client sent the
    same order twice).
    """

    authorizations: int = 0
    token_requests: int = 0
    code_exchanges: int = 0
    refreshes: int = 0
    reuse_attempts: int = 0
    invalid_grants: int = 0
    invalid_clients: int = 0
    rotations: Counter[str] = attrs.field(factory=Counter)
    requests: Counter[str] = attrs.field(factory=Counter)
    faults: Counter[str] = attrs.field(factory=Counter)
    outbound_creates: Counter[str] = attrs.field(factory=Counter)

    @property
    def api_requests(self) -> int:
        """Total API requests (token endpoint and authorize page excluded)."""
        return sum(self.requests.values())

    @property
    def duplicate_outbound_creates(self) -> int:
        """Create requests beyond the first for the same ``merchantOutboundNumber``."""
        return sum(n - 1 for n in self.outbound_creates.values() if n > 1)

    def reset(self) -> None:
        """Zero every counter (state such as issued tokens and stored objects is kept)."""
        fresh = FakeStats()
        for field in attrs.fields(FakeStats):
            setattr(self, field.name, getattr(fresh, field.name))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready snapshot (served at ``GET /_fake/stats``)."""
        data = attrs.asdict(self, recurse=False)
        data["api_requests"] = self.api_requests
        data["duplicate_outbound_creates"] = self.duplicate_outbound_creates
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in data.items()}
