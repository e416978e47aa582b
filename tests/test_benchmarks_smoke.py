"""Each benchmark case runs at tiny sizes and reports sane figures (no timing asserts)."""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import msgspec
import orjson
import pydantic
import pytest

from benchmarks import (
    CASES,
    accounts,
    decoding,
    fast_path,
    instructions,
    memory,
    overhead,
    rivals_msgspec,
    rivals_pydantic,
    roundtrips,
    storm,
    tiny,
    typed,
)
from benchmarks import __main__ as runner
from benchmarks.page import SpecMissing, create_body, outbound_page
from ffn_async.models import fulfiller, merchant
from ffn_async.models._base import to_camel
from tests.models.payloads import without_unknown
from tests.services import unavailable


@pytest.fixture(scope="module")
def page() -> bytes:
    try:
        return outbound_page(5)
    except SpecMissing as exc:
        unavailable(str(exc))


async def test_fast_path_does_no_store_io_and_takes_no_lock() -> None:
    check = await fast_path.verify_no_io(calls=100)
    assert check == {"calls": 100, "store_calls": 0, "locks_taken": 0}


async def test_the_no_io_guard_catches_store_io() -> None:
    store = fast_path.ForbiddenIO()
    store.armed = True
    with pytest.raises(AssertionError, match="store.load"):
        await store.load("fast-path")
    assert store.calls == 1


def test_fast_path_case() -> None:
    result = fast_path.run(fast_path.Params(calls=1000, repeat=1))
    ns = result.data["ns_per_call"]
    assert set(ns) == {
        "empty coroutine (baseline)",
        "ffn-async TokenManager.access_token()",
        "ffn-async StaticToken.access_token()",
        "Authlib AsyncOAuth2Client.ensure_active_token()",
        "ffn-async FFNClient.request() on a stub session (whole pipeline)",
        "ffn-async ffn.shared.users.current() on a stub session (typed: a User)",
        "ffn-async FFNClient.request(), stub session, counting observer",
        "ffn-async ffn.shared.users.current(), stub session, counting observer",
    }
    assert all(v > 0 for v in ns.values())
    assert result.data["no_io_check"]["store_calls"] == 0


def test_decoding_case(page: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    # The case measures first use in three freshly spawned interpreters (~25 s of this suite);
    # here the same function runs in this process: what is checked is the case's assembly.
    monkeypatch.setattr(decoding, "_fresh_process", decoding.first_use)
    result = decoding.run(decoding.Params(items=5, number=1, repeat=1))
    assert [c.name for c in decoding.codecs()] == list(result.data["results"])
    for figures in result.data["results"].values():
        assert figures["decode_us"] > 0
        assert figures["encode_us"] > 0
        assert figures["create_encode_us"] > 0
        assert figures["page_held_bytes"] > 0
    assert len(result.tables[0].rows) == len(decoding.codecs())
    first = result.data["results"][decoding.FFN]["first_use"]
    assert first["first_decode_ms"] > 0
    assert sum("target" in note for note in result.notes) == 3


def test_every_encoder_writes_the_same_create_body() -> None:
    body = orjson.loads(create_body(3))
    for codec in decoding.codecs("create"):
        if codec.name != decoding.PYDANTIC:  # which writes decimals as strings
            assert orjson.loads(codec.encode(codec.decode(create_body(3)))) == body, codec.name


def _model_shape(cls: type) -> dict[str, tuple[bool, type | None]]:
    """Wire name -> (required, nested model class) of an attrs model."""
    attrs.resolve_types(cls)
    return {
        field.metadata.get("wire", to_camel(field.name)): (
            field.default is attrs.NOTHING,
            _nested(field.type, attrs.has),
        )
        for field in attrs.fields(cls)
    }


def _rival_shape(cls: Any) -> dict[str, tuple[bool, type | None]]:
    """The same for a msgspec Struct or a pydantic model of the benchmarks."""
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        fields = msgspec.structs.fields(cls)
        return {f.encode_name: (f.required, _nested(f.type, _is_rival)) for f in fields}
    return {
        (info.alias or name): (info.is_required(), _nested(info.annotation, _is_rival))
        for name, info in cls.model_fields.items()
    }


def _is_rival(tp: Any) -> bool:
    return isinstance(tp, type) and (
        issubclass(tp, msgspec.Struct) or issubclass(tp, pydantic.BaseModel)
    )


def _nested(tp: Any, is_model: Callable[[Any], bool]) -> type | None:
    """The model class inside ``tp`` (``X | None``, ``list[X]``), if any."""
    if is_model(tp):
        return tp  # type: ignore[no-any-return]
    for arg in typing.get_args(tp):
        found = _nested(arg, is_model)
        if found is not None:
            return found
    return None


def _compare(model: type, rival: Any, where: str, seen: set[tuple[type, Any]]) -> list[str]:
    if (model, rival) in seen:
        return []
    seen.add((model, rival))
    ours, theirs = _model_shape(model), _rival_shape(rival)
    problems = [f"{where}: {sorted(set(ours) ^ set(theirs))}"] if set(ours) != set(theirs) else []
    for name in sorted(set(ours) & set(theirs)):
        (required, inner), (rival_required, rival_inner) = ours[name], theirs[name]
        if required != rival_required:
            problems.append(f"{where}.{name}: required {required} vs {rival_required}")
        if (inner is None) != (rival_inner is None):
            problems.append(f"{where}.{name}: nesting differs")
        elif inner is not None:
            problems += _compare(inner, rival_inner, f"{where}.{name}", seen)
    return problems


@pytest.mark.parametrize(
    ("model", "rival"),
    [
        (fulfiller.PagedOutboundResponse, rivals_msgspec.MPagedOutboundResponse),
        (fulfiller.PagedOutboundResponse, rivals_pydantic.PPagedOutboundResponse),
        (merchant.CreateOutboundRequest, rivals_msgspec.MCreateOutbound),
        (merchant.CreateOutboundRequest, rivals_pydantic.PCreateOutbound),
    ],
)
def test_the_rival_models_have_the_shape_of_ours(model: type, rival: Any) -> None:
    """Same wire names, required fields and nesting as the models the bodies are built for."""
    assert _compare(model, rival, model.__name__, set()) == []


def test_the_typed_encoders_write_the_page_back_without_the_unknown_fields(page: bytes) -> None:
    expected = without_unknown(orjson.loads(page))
    for codec in decoding.codecs():
        if codec.name in (decoding.MSGSPEC, decoding.FFN):
            assert orjson.loads(codec.encode(codec.decode(page))) == expected, codec.name


def test_typed_case(page: bytes) -> None:
    params = typed.Params(cells=(("page", 2), ("tiny", 100)), duration=0.05, rounds=1, warmup=3)
    result = typed.run(params)
    cells = result.data["results"]
    assert set(cells) == {"page@2", "tiny@100"}
    for cell in cells.values():
        for figures in cell["clients"].values():
            assert figures["errors"] == 0
            assert figures["best_rps"] > 0
    assert any("target (tiny @ 100" in note for note in result.notes)


def test_tiny_case() -> None:
    params = tiny.Params(concurrencies=(1, 10), rounds=3, burst=0.02, warmup=3)
    result = tiny.run(params)
    cells = result.data["results"]
    assert set(cells) == {"1", "10"}
    for cell in cells.values():
        assert cell["errors"] == 0
        assert set(cell["vs_raw"]) == {tiny.UNTYPED, tiny.TYPED}
        for ratio in cell["vs_raw"].values():
            assert len(ratio["rounds_rps_ratio"]) == 3
            s = ratio["rps_ratio"]
            assert 0 < s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
    assert len(result.tables[0].rows) == 4  # two stacks at two concurrencies


def test_instructions_case() -> None:
    """Counted for real under callgrind (valgrind is on every machine of this project)."""
    missing = instructions.tools_missing()
    if missing is not None:
        unavailable(missing)
    result = instructions.run(instructions.Params(requests=30, concurrency=10, warmup=20))
    per = result.data["per_request"]
    assert set(per) == {tiny.RAW, tiny.UNTYPED, tiny.TYPED}
    assert all(50_000 < count < 5_000_000 for count in per.values()), per
    assert result.data["control_calls"] > 0
    assert [row[0] for row in result.tables[0].rows] == [tiny.RAW, tiny.UNTYPED, tiny.TYPED]


def test_instructions_case_without_valgrind_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda tool: None)
    result = instructions.run(instructions.QUICK)
    assert result.tables == ()
    assert result.notes == ("not measured: valgrind not found (Debian: apt-get install valgrind)",)


def test_spread_reports_quartiles() -> None:
    assert tiny.spread([5.0, 1.0, 3.0, 2.0, 4.0]) == {
        "median": 3.0,
        "q1": 2.0,
        "q3": 4.0,
        "min": 1.0,
        "max": 5.0,
    }
    assert tiny.spread([2.0])["q1"] == 2.0


def test_every_decoder_yields_the_same_typed_page(page: bytes) -> None:
    for codec in decoding.codecs():
        decoding.check(page, codec, 5)  # raises if a contender decoded something else


def test_overhead_case(page: bytes) -> None:
    params = overhead.Params(
        concurrencies=(1, 100), page_concurrencies=(2,), duration=0.05, rounds=1, warmup=3
    )
    result = overhead.run(params)
    cells = result.data["results"]
    assert set(cells) == {"tiny@1", "tiny@100", "page@2"}
    for cell in cells.values():
        assert set(cell["clients"]) == {
            "raw aiohttp",
            "ffn-async (TokenManager)",
            "ffn-async (StaticToken)",
            "httpx + Authlib",
        }
        for figures in cell["clients"].values():
            assert figures["errors"] == 0
            assert figures["best_rps"] > 0
    assert any("target" in note for note in result.notes)


def test_memory_case() -> None:
    result = memory.run(memory.Params(small=50, large=200, concurrency=10))
    data = result.data["results"]
    assert data["failures"] == 0
    assert data["rss_after_200_kib"] > 10_000  # KiB: a Python process with aiohttp loaded


def test_storm_case_refreshes_once_per_store() -> None:
    params = storm.Params(coroutines=20, processes=(2,), stores=("memory", "file", "sqlite"))
    result = storm.run(params)
    runs = result.data["results"]
    assert set(runs) == {"memory@1", "file@2", "sqlite@2"}
    for r in runs.values():
        assert r["token_requests"] == 1
        assert r["reuse_attempts"] == 0
        assert r["failures"] == 0
    assert result.data["all_ok"] is True


def test_accounts_case_reports_every_run() -> None:
    # Tokens fall due over the first 0.5 s: polling three times as long leaves every account a
    # request after its token is due, however slowly a loaded machine runs the loops.
    params = accounts.Params(
        accounts=20, requests=2, jitter=0.5, poll_interval=0.2, poll_seconds=1.5, postgres=False
    )
    result = accounts.run(params)
    if "skipped" in result.data:
        unavailable(f"the accounts case needs Redis: {result.data['skipped']}")
    waves = {r["run"]: r for r in result.data["waves"]}
    assert len(waves) == 4
    assert all(r["failures"] == 0 for r in waves.values())  # 20 accounts fit any pool
    assert all(r.get("refreshes", 20) == 20 for r in waves.values())
    assert [r["refreshes"] for r in result.data["jitter"]] == [20, 20]
    assert result.data["throughput"]["requests"] == 40
    assert result.data["memory"]["bytes_per_account"] > 0


def test_store_round_trip_case() -> None:
    params = roundtrips.Params(ops=5, keys=5, processes=(2,), stores=("memory", "sqlite"))
    result = roundtrips.run(params)
    assert set(result.data["results"]) == {"memory", "sqlite"}
    assert result.data["results"]["sqlite"]["procs_2"]["p50_ms"] > 0


def test_runner_writes_markdown_and_json_and_merges(tmp_path: Path) -> None:
    out = tmp_path / "results"
    (out).mkdir()
    (out / "results.json").write_bytes(
        orjson.dumps(
            {
                "cases": {
                    "kept": {
                        "title": "An earlier case",
                        "when": "earlier",
                        "seconds": 1.0,
                        "tables": [{"title": "t", "headers": ["a", "b"], "rows": [["1", "2"]]}],
                        "notes": ["kept from before"],
                    }
                }
            }
        )
    )
    assert runner.main(["--quick", "--case", "fast_path", "--out", str(out)]) == 0
    payload = orjson.loads((out / "results.json").read_bytes())
    assert list(payload["cases"]) == ["fast_path", "kept"]  # known cases first, in order
    assert payload["machine"]["nproc"] == os.cpu_count()
    md = (out / "results.md").read_text()
    assert "## 6. Fast path" in md
    assert "An earlier case" in md
    assert "| a | b |" in md


def test_every_case_is_registered() -> None:
    assert list(CASES) == [
        "overhead",
        "decoding",
        "storm",
        "stores",
        "memory",
        "fast_path",
        "typed",
        "tiny",
        "instructions",
        "accounts",
    ]
    for load in CASES.values():
        module = load()
        assert callable(module.run)
        assert module.QUICK != module.FULL


def test_big_body_case() -> None:
    from benchmarks import big_body

    rows = big_body.run(size_mib=70)  # just over the default 64 MiB limit
    assert [r["outcome"] for r in rows] == ["ResponseTooLarge", "ok", "ServerError"]
    assert rows[2]["body_kept_bytes"] == 64 * 1024


def test_order_sync_case() -> None:
    from benchmarks import order_sync

    rows = order_sync.run(creates=5, batches=3)
    whats = {(r["what"], r["store"]) for r in rows}
    assert ("outbound create, safe create", "-") in whats
    assert ("Outbox.submit", "memory") in whats
    assert ("empty FeedConsumer.batch", "sqlite") in whats
    assert all(r["us"] > 0 for r in rows)


def test_outbox_queue_case() -> None:
    from benchmarks import outbox_queue

    rows = outbox_queue.run(
        stores=["memory", "sqlite"], sizes=(5, 20), submits=5, http_sizes=(5,), budget=60.0
    )
    whats = {(r["store"], r["kept"], r["what"]) for r in rows}
    assert ("memory", 20, "submit") in whats
    assert ("sqlite", 20, "replay store") in whats
    assert ("sqlite", 5, "replay http") in whats
    assert all(r["p99"] >= r["p50"] > 0 for r in rows if r["what"] == "submit")
