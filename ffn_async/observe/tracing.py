"""OpenTelemetry spans named by operation id, for ``opentelemetry-instrumentation-aiohttp-client``.

That instrumentation traces every HTTP attempt but names each span by its method alone
(``GET``, ``POST``). Give it :func:`request_hook` and the spans of this client's attempts are
named by the operation (``"merchant.OutboundsGetAll"``, the
:data:`~ffn_async.api.OPERATIONS` id, else the path template) and carry it, the path template
and the attempt number as attributes::

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from ffn_async.observe.tracing import request_hook

    AioHttpClientInstrumentor().instrument(request_hook=request_hook)

or, for one client only, ``FFNClient(auth, trace_configs=[create_trace_config(
request_hook=request_hook)])``. Spans of other requests (a TokenManager's token calls, any
other aiohttp session) keep their names. Neither OpenTelemetry package is a dependency: the
hook only calls methods the span it is given has.

How it knows the operation: aiohttp runs the hook inside the request's task, where a traced
client's pipeline has put the request being sent in the context variable :data:`sending`
(a client is traced when its session has trace configs, which the instrumentor adds to every
session; untraced clients skip the variable, whose set and reset cost ~15,000 instructions).
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

__all__ = ["Sending", "SpanLike", "request_hook", "sending"]


class Sending(Protocol):
    """What the hook reads of the request being sent (the client's ``_Exchange``)."""

    url: URL
    template: str
    attempt: int

    @property
    def operation(self) -> str:
        """``"<api>.<operationId>"``, else the path template (looked up when read)."""


#: The request a traced client's pipeline is sending in this context.
sending: contextvars.ContextVar[Sending | None] = contextvars.ContextVar(
    "ffn_async_sending", default=None
)


class SpanLike(Protocol):
    """The part of an OpenTelemetry ``Span`` the hook uses."""

    def update_name(self, name: str) -> None: ...

    def set_attribute(self, key: str, value: str | int) -> None: ...


def request_hook(span: SpanLike, params: aiohttp.TraceRequestStartParams) -> None:
    """Name ``span`` by the operation of the request this client is sending, and set the
    ``ffn.operation``, ``url.template`` and ``ffn.attempt`` attributes; leave other spans."""
    request = sending.get()
    if request is None or params.url != request.url:  # not an API attempt of ours
        return
    operation = request.operation
    span.update_name(operation)
    span.set_attribute("ffn.operation", operation)
    span.set_attribute("url.template", request.template)
    span.set_attribute("ffn.attempt", request.attempt)
