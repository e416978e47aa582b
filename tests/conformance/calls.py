"""Every operation of both specs as a call of its typed method, in several request variants,
with what went over the wire recorded from aiohttp's trace hooks.

Variants of a request (each sent to Prism, which validates it against the spec):

* ``full``: every body field filled (the committed payload fixtures), every operation-specific
  query parameter given, ids that need percent-encoding (:data:`AWKWARD_ID`);
* ``required``: only what the spec requires (bodies cut down to their required fields, no
  optional query parameter);
* ``nulls``: the full body plus every ``null`` the spec allows a client to send (a PATCH clearing
  a nullable field, a ``null`` item in a nullable-item array).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import attrs

from ffn_async import FFNClient
from ffn_async.api import Operation
from ffn_async.api.pagination import ChangeFeed, ChunkedList, Paginator
from ffn_async.codec import serialization
from ffn_async.codec._modelinfo import fields, kind, wire_name
from ffn_async.models import UNSET
from tests.api.test_every_operation import call_args, model, resolve
from tests.models.payloads import payload, without_unknown

__all__ = ["AWKWARD_ID", "VARIANTS", "Exchange", "Recorder", "body_for", "call"]

AWKWARD_ID = "ORDER 1/ä+%#?"
"""Every path id: a space, a slash, an umlaut and the characters a URL gives meaning to."""
VARIANTS = ("full", "required", "nulls")
SINCE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass
class Exchange:
    """One HTTP request and Prism's verdict on it."""

    method: str
    url: str
    status: int
    violations: list[dict[str, Any]]

    def located(self, where: str) -> list[dict[str, Any]]:
        """The violations of the ``request`` or of the ``response``."""
        return [v for v in self.violations if v.get("location", [""])[0] == where]


@dataclass
class Recorder:
    """Collects an :class:`Exchange` per request of a client (its ``trace_configs``)."""

    exchanges: list[Exchange] = field(default_factory=list)

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_end.append(self._end)
        return config

    async def _end(self, session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        header = params.response.headers.get("sl-violations")
        violations = json.loads(header) if header else []
        self.exchanges.append(
            Exchange(params.method, str(params.url), params.response.status, violations)
        )


def _required_only(data: dict[str, Any], cls: type) -> dict[str, Any]:
    """``data`` cut down to the fields ``cls`` requires, recursively."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        wire = wire_name(f)
        if f.default is not attrs.NOTHING or wire not in data:
            continue
        value, k = data[wire], kind(f.type)
        if k.name == "model" and isinstance(value, dict):
            value = _required_only(value, k.target)
        elif k.name == "list" and k.target.name == "model" and isinstance(value, list):
            value = [_required_only(item, k.target.target) for item in value]
        out[wire] = value
    return out


def _with_nulls(obj: Any) -> Any:
    """``obj`` with every ``null`` a client may send: PATCH fields whose type allows ``None``
    cleared, a ``None`` added to each nullable-item list; nested objects likewise."""
    for f in fields(type(obj)):
        k, value = kind(f.type), getattr(obj, f.name)
        if f.default is UNSET and k.nullable:
            setattr(obj, f.name, None)
        elif k.name == "model" and value is not None and value is not UNSET:
            _with_nulls(value)
        elif k.name == "list" and isinstance(value, list):
            if k.target.nullable:
                value.append(None)
            elif k.target.name == "model":
                for item in value:
                    _with_nulls(item)
    return obj


def body_for(op: Operation, variant: str) -> Any:
    """The request body of ``op`` in ``variant``, as the request model."""
    assert op.request_model is not None
    cls = model(op, op.request_model)
    data = without_unknown(payload(op.api, op.request_model))
    if variant == "required":
        data = _required_only(data, cls)
    obj: Any = serialization.structure(data, cls)
    return _with_nulls(obj) if variant == "nulls" else obj


async def _first(chunks: AsyncGenerator[Any, None]) -> Any:
    """The first page or chunk only: a dynamic answer's next link points anywhere."""
    try:
        return await anext(chunks)
    finally:
        await chunks.aclose()


async def call(ffn: FFNClient, op: Operation, name: str, variant: str) -> Any:
    """Call method ``name`` of ``op`` in ``variant``; the decoded result (first page of a list)."""
    method = resolve(ffn, name)
    body = body_for(op, variant) if op.request_model else None
    args, kwargs = call_args(method, body)
    args = [AWKWARD_ID if isinstance(a, str) else a for a in args]
    if variant == "required":
        kwargs = {}
    accepted = inspect.signature(method).parameters
    if "prefetch" in accepted:
        kwargs["prefetch"] = 0
    if "from_date" in accepted:
        kwargs["from_date"] = SINCE
    result = method(*args, **kwargs)
    if isinstance(result, Paginator):
        return await _first(result.pages())
    if isinstance(result, ChangeFeed | ChunkedList):
        return await _first(result.chunks())
    return await result
