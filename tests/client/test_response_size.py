"""Response bodies are bounded: JSON by max_response_size, downloads by max_download_size.

A body over its limit is a typed ResponseTooLarge raised before the rest is read, whether the
server announced its length or not (chunked, or compressed so the announced length lies);
exceptions keep only the first ERROR_BODY_KEEP bytes of a body.
"""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import FFNClient, StaticToken
from ffn_async.client import ERROR_BODY_KEEP
from ffn_async.errors import DecodeError, ResponseTooLarge, ServerError
from ffn_async.retry import NO_RETRY

from ..conftest import environment_for

MIB = 1024 * 1024


def json_of_size(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes."""
    body = orjson.dumps({"items": ["x" * (size - 14)]})
    assert len(body) == size
    return body


async def big_json(request: web.Request) -> web.Response:
    return web.Response(
        body=json_of_size(int(request.query["size"])), content_type="application/json"
    )


async def chunked(request: web.Request) -> web.StreamResponse:
    """No Content-Length: the client only learns the size by reading."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    total = int(request.query["size"])
    await resp.write(b'{"items": ["')
    sent = 0
    try:
        while sent < total:
            await resp.write(b"x" * 65536)
            sent += 65536
        await resp.write(b'"]}')
    except (ConnectionResetError, ConnectionError):
        pass
    return resp


async def gzipped(request: web.Request) -> web.Response:
    """Small on the wire, big once aiohttp has decompressed it."""
    raw = json_of_size(int(request.query["size"]))
    return web.Response(
        body=gzip.compress(raw),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


async def big_error(request: web.Request) -> web.Response:
    return web.Response(status=500, body=json_of_size(MIB), content_type="application/json")


async def not_json(request: web.Request) -> web.Response:
    return web.Response(body=b"<html>" + b"x" * MIB, content_type="text/html")


async def binary(request: web.Request) -> web.Response:
    size = int(request.query["size"])
    return web.Response(body=bytes(range(256)) * (size // 256), content_type="image/png")


async def picture(request: web.Request) -> web.Response:
    """A picture of ``number`` MiB."""
    return web.Response(body=b"\x89PNG" * (int(request.match_info["number"]) * MIB // 4))


STREAM_CHUNK = bytes(range(256)) * 256  # 64 KiB, the one object every write of large() sends


async def large(request: web.Request) -> web.StreamResponse:
    """``number`` MiB, written chunk by chunk: the server holds no more than one chunk."""
    resp = web.StreamResponse(headers={"Content-Type": "image/png"})
    resp.content_length = int(request.match_info["number"]) * MIB
    await resp.prepare(request)
    for _ in range(resp.content_length // len(STREAM_CHUNK)):
        await resp.write(STREAM_CHUNK)
    return resp


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/api/json", big_json)
    app.router.add_get("/api/chunked", chunked)
    app.router.add_get("/api/gzip", gzipped)
    app.router.add_get("/api/error", big_error)
    app.router.add_get("/api/html", not_json)
    app.router.add_get("/api/binary", binary)
    app.router.add_get("/api/v1/fulfiller/products/{jfsku}/pictures/{number}/data", picture)
    app.router.add_get("/api/v1/merchant/products/{jfsku}/pictures/{number}/data", large)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


def client(server: TestServer, **options: int) -> FFNClient:
    return FFNClient(
        StaticToken("t"), environment=environment_for(server), retry=NO_RETRY, **options
    )


@pytest.mark.parametrize("route", ["json", "chunked", "gzip"])
async def test_a_json_body_over_the_limit_is_a_typed_error(server: TestServer, route: str) -> None:
    async with client(server, max_response_size=MIB) as ffn:
        small = await ffn.request("GET", f"/{route}", params={"size": MIB // 2})
        assert len(small["items"][0]) >= MIB // 2 - 20
        with pytest.raises(ResponseTooLarge) as caught:
            await ffn.request("GET", f"/{route}", params={"size": 3 * MIB})
        # The client still works afterwards (the cut connection is not reused).
        assert await ffn.request("GET", f"/{route}", params={"size": 1000})
    err = caught.value
    assert (err.limit, err.setting) == (MIB, "max_response_size")
    assert err.size == (3 * MIB if route == "json" else None)  # announced only when honest
    assert f"larger than {MIB} bytes" in str(err)
    assert "FFNClient(max_response_size=...)" in str(err)


async def test_error_bodies_keep_only_a_bounded_prefix(server: TestServer) -> None:
    async with client(server) as ffn:
        with pytest.raises(ServerError) as caught:
            await ffn.request("GET", "/error")
        with pytest.raises(DecodeError) as undecodable:
            await ffn.request("GET", "/html")
    assert len(caught.value.body) == ERROR_BODY_KEEP
    assert caught.value.body.startswith(b'{"items"')
    assert "only its start" in str(caught.value)
    assert len(undecodable.value.body) == ERROR_BODY_KEEP


async def test_downloads_stream_to_a_file_under_their_own_limit(
    server: TestServer, tmp_path: Path
) -> None:
    dest = tmp_path / "picture.png"
    async with client(server, max_response_size=1000, max_download_size=4 * MIB) as ffn:
        response = await ffn.request_raw("GET", "/binary", params={"size": 3 * MIB}, dest=dest)
        assert response.content == b""  # streamed, not held in memory
        assert dest.read_bytes() == bytes(range(256)) * (3 * MIB // 256)
        in_memory = await ffn.request_raw("GET", "/binary", params={"size": MIB}, download=True)
        assert len(in_memory.content) == MIB
        with pytest.raises(ResponseTooLarge) as caught:
            await ffn.request_raw("GET", "/binary", params={"size": 5 * MIB}, dest=tmp_path / "big")
        with pytest.raises(ResponseTooLarge):  # not a download: the JSON limit
            await ffn.request_raw("GET", "/binary", params={"size": 2048})
    assert caught.value.setting == "max_download_size"
    assert "FFNClient(max_download_size=...)" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.png"]  # no partial files


async def test_generated_download_methods_stream_under_the_download_limit(
    server: TestServer, tmp_path: Path
) -> None:
    dest = tmp_path / "picture.png"
    async with client(server, max_response_size=1000, max_download_size=2 * MIB) as ffn:
        pictures = ffn.fulfiller.products.pictures
        assert await pictures.download("J", 1, dest=dest) == dest
        assert dest.read_bytes() == b"\x89PNG" * (MIB // 4)
        assert len(await pictures.download("J", 2)) == 2 * MIB  # in memory, same limit
        with pytest.raises(ResponseTooLarge, match="max_download_size"):
            await pictures.download("J", 3, dest=tmp_path / "big.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.png"]


async def test_a_download_to_a_file_never_holds_the_body_in_memory(
    server: TestServer, tmp_path: Path
) -> None:
    """32 MiB streamed to ``dest``: the process never allocates a fraction of that at once
    (the body is neither collected nor read back from the file), and the path comes back."""
    size = 32 * MIB
    dest = tmp_path / "large.png"
    async with client(server, max_download_size=size) as ffn:
        await ffn.merchant.products.pictures.download("J", 1, dest=dest)  # warm: connection
        tracemalloc.start()
        try:
            written = await ffn.merchant.products.pictures.download("J", 32, dest=str(dest))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < size // 8, f"{peak} bytes allocated at once for a {size}-byte download"
    assert written == dest
    expected = hashlib.sha256()
    for _ in range(size // len(STREAM_CHUNK)):
        expected.update(STREAM_CHUNK)
    assert hashlib.sha256(dest.read_bytes()).digest() == expected.digest()
