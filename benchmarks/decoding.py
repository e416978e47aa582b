"""Case 2, decoding and encoding: typed objects from and to bytes, memory, first use.

Compared: ffn-async (``serialization.decode`` / ``serialization.dumps``: msgspec into
generated wire Structs, then the attrs models), pydantic v2 (``model_validate_json`` /
``model_dump_json``) and msgspec (``Decoder`` / ``Encoder``) with the models of
:mod:`benchmarks.rivals_msgspec` and :mod:`benchmarks.rivals_pydantic`, and
``json``/``orjson`` to plain dicts as references.

* **page**: a 100-outbound Fulfiller ``PagedOutboundResponse``, bytes → typed objects → bytes;
* **create body**: a Merchant ``CreateOutboundRequest`` with 100 items encoded (ffn-async
  checks the spec constraints while encoding; pydantic validates at construction, msgspec
  not at all);
* **memory**: bytes held by one decoded page (``tracemalloc``, after a warm-up decode);
* **first use**: in a fresh process, the import of the library and models, then the first
  decode of the page (ffn-async compiles its code for the classes then; pydantic builds its
  schemas at class creation, counted in "import").

Timing: the contenders take turns (``repeat`` rounds of ``number`` calls each) and the best
round counts, in process CPU time, so that other processes on a shared machine disturb the
ratios as little as possible.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from multiprocessing import get_context
from typing import Any

import attrs
import msgspec
import orjson
import pydantic

from ffn_async.codec import serialization

from .first_use import FFN, MSGSPEC, PYDANTIC, first_use, model
from .page import create_body, outbound_page
from .report import CaseResult, Table
from .rivals_msgspec import MCreateOutbound, MPagedOutboundResponse
from .rivals_pydantic import PCreateOutbound, PPagedOutboundResponse

__all__ = ["FULL", "QUICK", "Params", "codecs", "run"]


@attrs.frozen
class Params:
    """Sizes of one run: ``repeat`` rounds of ``number`` calls per contender, best kept."""

    items: int = 100
    number: int = 20
    repeat: int = 15
    first_use: bool = True


FULL = Params()
QUICK = Params(number=5, repeat=3)

JSON = "json.loads/dumps (dicts)"
ORJSON = "orjson.loads/dumps (dicts)"


@attrs.frozen
class Codec:
    """One contender: bytes → objects, and objects → bytes."""

    name: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def _pydantic_dump(m: Any) -> bytes:
    return m.model_dump_json(by_alias=True, exclude_none=True).encode()  # type: ignore[no-any-return]


def codecs(kind: str = "page") -> tuple[Codec, ...]:
    """Every contender for the page (``kind="page"``) or the create body (``"create"``)."""
    ms_encoder = msgspec.json.Encoder(decimal_format="number")
    structs, pyd, ours = (
        (
            MPagedOutboundResponse,
            PPagedOutboundResponse,
            model("fulfiller", "PagedOutboundResponse"),
        )
        if kind == "page"
        else (MCreateOutbound, PCreateOutbound, model("merchant", "CreateOutboundRequest"))
    )
    return (
        Codec(JSON, json.loads, lambda d: json.dumps(d).encode()),
        Codec(ORJSON, orjson.loads, orjson.dumps),
        Codec(MSGSPEC, msgspec.json.Decoder(structs).decode, ms_encoder.encode),
        Codec(PYDANTIC, pyd.model_validate_json, _pydantic_dump),
        Codec(FFN, lambda b: serialization.decode(b, ours), serialization.dumps),
    )


def check(data: bytes, codec: Codec, items: int) -> None:
    """Fail loudly if a contender decoded something other than the full typed page."""
    obj = codec.decode(data)
    if isinstance(obj, dict):
        assert len(obj["items"]) == items
        return
    first = obj.items[0]
    assert len(obj.items) == items, codec.name
    assert isinstance(first.shipping_fee, Decimal), codec.name
    assert isinstance(first.modification_info.created_at, dt.datetime), codec.name
    assert first.modification_info.created_at.tzinfo is not None, codec.name
    assert first.shipping_address.city, codec.name
    again = orjson.loads(codec.encode(obj))
    assert len(again["items"]) == items, codec.name
    assert again["_page"]["total"], codec.name


def _interleaved(calls: dict[str, Callable[[], Any]], params: Params) -> dict[str, float]:
    """µs per call for each function: rounds taken in turn, the best round of each kept."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(params.repeat):
        for name, fn in calls.items():
            seconds = timeit.timeit(fn, number=params.number, timer=time.process_time)
            best[name] = min(best[name], seconds / params.number * 1e6)
    return {name: round(us, 1) for name, us in best.items()}


def _held_bytes(decode: Callable[[bytes], Any], data: bytes) -> int:
    """Bytes still allocated while one decoded page is held (after a warm-up decode)."""
    decode(data)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = decode(data)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return after - before


def _fresh_process(name: str, items: int) -> dict[str, float]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(first_use, name, items).result()


def run(params: Params = FULL) -> CaseResult:
    """Time every contender on the same bytes; memory and first use beside them."""
    started = time.perf_counter()
    page = outbound_page(params.items)
    body = create_body(params.items)
    page_codecs = {c.name: c for c in codecs("page")}
    create_codecs = {c.name: c for c in codecs("create")}
    for codec in page_codecs.values():
        check(page, codec, params.items)
    page_objs = {n: c.decode(page) for n, c in page_codecs.items()}
    create_objs = {n: c.decode(body) for n, c in create_codecs.items()}
    decode_us = _interleaved(
        {n: (lambda c=c: c.decode(page)) for n, c in page_codecs.items()}, params
    )
    encode_us = _interleaved(
        {n: (lambda c=c, o=page_objs[n]: c.encode(o)) for n, c in page_codecs.items()}, params
    )
    create_us = _interleaved(
        {n: (lambda c=c, o=create_objs[n]: c.encode(o)) for n, c in create_codecs.items()},
        params,
    )
    held = {n: _held_bytes(c.decode, page) for n, c in page_codecs.items()}
    first = (
        {n: _fresh_process(n, params.items) for n in (FFN, PYDANTIC, MSGSPEC)}
        if params.first_use
        else {}
    )
    results = {
        n: {
            "decode_us": decode_us[n],
            "encode_us": encode_us[n],
            "roundtrip_us": round(decode_us[n] + encode_us[n], 1),
            "create_encode_us": create_us[n],
            "page_held_bytes": held[n],
            **({"first_use": first[n]} if n in first else {}),
        }
        for n in page_codecs
    }
    ms, js, pyd, ffn = results[MSGSPEC], results[JSON], results[PYDANTIC], results[FFN]
    page_rows = tuple(
        (
            n,
            f"{r['decode_us']:,.0f}",
            f"{r['decode_us'] / ms['decode_us']:.2f}x",
            f"{r['decode_us'] / js['decode_us']:.2f}x",
            f"{r['encode_us']:,.0f}",
            f"{r['roundtrip_us']:,.0f}",
            f"{r['page_held_bytes'] / 1024:,.0f}",
        )
        for n, r in results.items()
    )
    create_rows = tuple(
        (
            n,
            f"{r['create_encode_us']:,.0f}",
            f"{r['create_encode_us'] / ms['create_encode_us']:.2f}x",
        )
        for n, r in results.items()
    )
    first_rows = tuple(
        (
            n,
            f"{f['import_ms']:,.1f}",
            f"{f['first_decode_ms']:,.2f}",
            f"{f['later_decode_ms']:,.2f}",
        )
        for n, f in ((n, results[n]["first_use"]) for n in first)
    )
    tables = [
        Table(
            f"A {params.items}-outbound page: µs per call, KiB held by the decoded page",
            ("library", "decode", "x msgspec", "x json.loads", "encode", "round trip", "KiB held"),
            page_rows,
        ),
        Table(
            f"Encoding a CreateOutboundRequest with {params.items} items: µs per call",
            ("library", "encode", "x msgspec"),
            create_rows,
        ),
    ]
    if first_rows:
        tables.append(
            Table(
                "First use in a fresh process: ms (ffn-async: beyond `import ffn_async`, which"
                " loads neither models nor msgspec)",
                ("library", "import library + models", "first decode", "second decode"),
                first_rows,
            )
        )
    notes = [
        f"page: {len(page) / 1024:.0f} KiB; create body: {len(body) / 1024:.0f} KiB; best of "
        f"{params.repeat} rounds x {params.number} calls, contenders in turn, process CPU time",
        f"pydantic {pydantic.VERSION}, msgspec {msgspec.__version__}, Python "
        f"{sys.version.split()[0]}",
        _verdict("decode ≤ 1.5x msgspec", ffn["decode_us"] / ms["decode_us"], 1.5),
        _verdict("decode ≤ 0.6x json.loads", ffn["decode_us"] / js["decode_us"], 0.6),
        _verdict(
            "create-body encode ≤ 2.5x msgspec",
            ffn["create_encode_us"] / ms["create_encode_us"],
            2.5,
        ),
        f"decode vs pydantic v2: {ffn['decode_us'] / pyd['decode_us']:.2f}x; round trip "
        f"{ffn['roundtrip_us'] / pyd['roundtrip_us']:.2f}x",
    ]
    if first:
        notes.append(
            f"msgspec's own import, part of ffn-async's first typed call: "
            f"{first[FFN]['msgspec_import_ms']:.1f} ms"
        )
    return CaseResult(
        name="decoding",
        title="2. Decoding and encoding: ffn-async vs pydantic v2 vs msgspec",
        tables=tuple(tables),
        data={
            "params": attrs.asdict(params),
            "page_bytes": len(page),
            "create_body_bytes": len(body),
            "results": results,
        },
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def _verdict(target: str, ratio: float, limit: float) -> str:
    return f"target {target}: {'met' if ratio <= limit else 'MISSED'} ({ratio:.2f}x)"
