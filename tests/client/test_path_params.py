"""Path parameters that would change the request's path are refused before anything is sent."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import FFNClient, StaticToken
from ffn_async.errors import ValidationError

from ..conftest import environment_for


@pytest.mark.parametrize("value", ["..", ".", ""])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_dot_segments_and_empty_path_params_are_refused(value: str, method: str) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        FFNClient(StaticToken("t"), environment=environment_for(server)) as ffn,
    ):
        with pytest.raises(ValidationError) as caught:
            await ffn.request(
                method,
                "/v1/merchant/authorizations/{authorizationId}",
                path_params={"authorizationId": value},
            )
        # Lookalikes are ordinary ids, encoded into one segment.
        for fine in ("...", ".a", "%2e%2e", "a/.."):
            await ffn.request(
                method,
                "/v1/merchant/authorizations/{authorizationId}",
                path_params={"authorizationId": fine},
            )
    assert caught.value.field == "authorizationId"
    assert repr(value) in str(caught.value)
    assert seen == [
        "/api/v1/merchant/authorizations/...",
        "/api/v1/merchant/authorizations/.a",
        "/api/v1/merchant/authorizations/%252e%252e",
        "/api/v1/merchant/authorizations/a%2F..",
    ]
