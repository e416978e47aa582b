"""First use of a model in a fresh process: import, first decode (compiling), later decode.

For ffn-async, "import" is what the first typed call loads beyond ``import ffn_async``:
msgspec, cattrs, the models and the codecs.

This module imports nothing heavy at the top, so that a spawned process running
:func:`first_use` pays the imports it measures.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from .page import outbound_page

__all__ = ["FFN", "MSGSPEC", "PYDANTIC", "first_use", "model"]

FFN = "ffn-async (msgspec wire + attrs)"
MSGSPEC = "msgspec (Struct)"
PYDANTIC = "pydantic v2 (BaseModel)"


def model(api: str, name: str) -> type:
    """The model class ``name`` of ``api`` (``"fulfiller"`` or ``"merchant"``), imported lazily."""
    module = importlib.import_module(f"ffn_async.models.{api}")
    found: type = getattr(module, name)
    return found


def first_use(name: str, items: int) -> dict[str, float]:
    """Import ``name``'s library and page models, then decode the page twice: ms for each."""
    data = outbound_page(items)
    decode: Callable[[bytes], Any]
    # Not counted: the client package every user imports (it loads neither models nor
    # msgspec), and for pydantic the enums its models borrow from ffn_async.models.
    import ffn_async

    if name == PYDANTIC:
        import ffn_async.models  # noqa: F401
    extra: dict[str, float] = {}
    t0 = time.perf_counter()
    if name == FFN:
        import msgspec  # what the new dependency adds, on the first typed call

        extra["msgspec_import_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
        from ffn_async.codec import serialization

        cls = model("fulfiller", "PagedOutboundResponse")

        def decode(b: bytes) -> Any:
            return serialization.decode(b, cls)

    elif name == PYDANTIC:
        from .rivals_pydantic import PPagedOutboundResponse

        decode = PPagedOutboundResponse.model_validate_json
    else:
        import msgspec

        from .rivals_msgspec import MPagedOutboundResponse

        decode = msgspec.json.Decoder(MPagedOutboundResponse).decode
    t1 = time.perf_counter()
    decode(data)
    t2 = time.perf_counter()
    decode(data)
    t3 = time.perf_counter()
    return {
        **extra,
        "import_ms": round((t1 - t0) * 1e3, 1),
        "first_decode_ms": round((t2 - t1) * 1e3, 2),
        "later_decode_ms": round((t3 - t2) * 1e3, 2),
    }
