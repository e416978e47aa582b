"""The fake's strict OAuth server, over a real socket with plain aiohttp."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson
import pytest
from yarl import URL

from ffn_async import Token
from ffn_async.testing import DEFAULT_SCOPES, FakeFFN
from ffn_async.testing.pytest_plugin import RunningFake
from tests.testing.conftest import basic


def _claims(access_token: str) -> dict[str, object]:
    payload = access_token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _post_token(
    fake: RunningFake, form: dict[str, str], secret: str | None = None
) -> tuple[int, dict[str, object]]:
    creds = fake.credentials
    auth = {
        "Authorization": basic(
            creds.client_id, secret if secret is not None else creds.client_secret
        )
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.environment.token_url, data=form, headers=auth) as resp,
    ):
        return resp.status, await resp.json()


async def _authorize(fake: RunningFake, **query: str) -> URL:
    params = {
        "response_type": "code",
        "client_id": fake.credentials.client_id,
        "redirect_uri": fake.credentials.redirect_uri or "",
        "scope": "ffn.merchant.read ffn.merchant.write",
        "state": "xyz-state",
        **query,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake.environment.authorize_url, params=params, allow_redirects=False) as resp,
    ):
        assert resp.status == 302
        return URL(resp.headers["Location"])


async def _login(fake: RunningFake) -> dict[str, object]:
    location = await _authorize(fake)
    status, body = await _post_token(
        fake,
        {
            "grant_type": "authorization_code",
            "code": location.query["code"],
            "redirect_uri": fake.credentials.redirect_uri or "",
        },
    )
    assert status == 200
    return body


async def test_authorize_redirects_with_code_and_state(ffn_fake: RunningFake) -> None:
    location = await _authorize(ffn_fake)
    assert str(location.with_query(None)) == ffn_fake.credentials.redirect_uri
    assert location.query["state"] == "xyz-state"
    assert location.query["code"]
    assert ffn_fake.stats.authorizations == 1


async def test_authorize_errors(ffn_fake: RunningFake) -> None:
    location = await _authorize(ffn_fake, response_type="token")
    assert location.query["error"] == "unsupported_response_type"
    assert location.query["state"] == "xyz-state"
    async with aiohttp.ClientSession() as session:
        bad_client = {"response_type": "code", "client_id": "nope"}
        async with session.get(
            ffn_fake.environment.authorize_url, params=bad_client, allow_redirects=False
        ) as resp:
            assert resp.status == 400  # never redirect for an unknown client
        bad_redirect = {
            "response_type": "code",
            "client_id": ffn_fake.credentials.client_id,
            "redirect_uri": "http://evil.example/cb",
        }
        async with session.get(
            ffn_fake.environment.authorize_url, params=bad_redirect, allow_redirects=False
        ) as resp:
            assert resp.status == 400


async def test_code_exchange_is_single_use_and_gives_a_jwt(ffn_fake: RunningFake) -> None:
    location = await _authorize(ffn_fake)
    form = {
        "grant_type": "authorization_code",
        "code": location.query["code"],
        "redirect_uri": ffn_fake.credentials.redirect_uri or "",
    }
    status, body = await _post_token(ffn_fake, form)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert "scope" not in body
    claims = _claims(str(body["access_token"]))
    assert claims["scopes"] == ["ffn.merchant.read", "ffn.merchant.write"]
    assert claims["aud"] == ffn_fake.credentials.client_id
    assert claims["exp"] - claims["iat"] == 1800
    assert Token.from_response(body).scopes == ("ffn.merchant.read", "ffn.merchant.write")
    assert ffn_fake.server.is_valid_access_token(str(body["access_token"]))

    status, again = await _post_token(ffn_fake, form)
    assert (status, again["error"]) == (400, "invalid_grant")
    # A replayed code revokes what it produced.
    assert not ffn_fake.server.is_valid_access_token(str(body["access_token"]))
    assert ffn_fake.stats.code_exchanges == 1
    assert ffn_fake.stats.invalid_grants == 1


async def test_code_exchange_checks_redirect_uri(ffn_fake: RunningFake) -> None:
    location = await _authorize(ffn_fake)
    status, body = await _post_token(
        ffn_fake,
        {"grant_type": "authorization_code", "code": location.query["code"]},
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_refresh_rotates_and_reuse_revokes_the_family(ffn_fake: RunningFake) -> None:
    first = await _login(ffn_fake)
    status, second = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert _claims(str(second["access_token"]))["jti"] != _claims(str(first["access_token"]))["jti"]
    status, third = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": str(second["refresh_token"])}
    )
    assert status == 200
    assert ffn_fake.server.is_valid_access_token(str(third["access_token"]))

    # The first refresh token comes back: theft assumed, the whole family dies.
    status, body = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    assert str(first["refresh_token"]) not in str(body)
    assert not ffn_fake.server.is_valid_access_token(str(third["access_token"]))
    status, body = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": str(third["refresh_token"])}
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    stats = ffn_fake.stats
    assert (stats.refreshes, stats.reuse_attempts, stats.invalid_grants) == (2, 1, 2)
    assert list(stats.rotations.values()) == [2]
    assert ffn_fake.server.oauth.families_revoked == 1


async def test_unknown_refresh_token_and_bad_requests(ffn_fake: RunningFake) -> None:
    status, body = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": "never-issued"}
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await _post_token(ffn_fake, {"grant_type": "client_credentials"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body = await _post_token(ffn_fake, {"grant_type": "refresh_token"})
    assert (status, body["error"]) == (400, "invalid_request")


async def test_wrong_secret_is_invalid_client(ffn_fake: RunningFake) -> None:
    tokens = ffn_fake.server.issue_token()
    status, body = await _post_token(
        ffn_fake,
        {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])},
        secret="wrong",
    )
    assert (status, body["error"]) == (401, "invalid_client")
    assert ffn_fake.stats.invalid_clients == 1
    # The grant was not touched: it still works with the right secret.
    status, _ = await _post_token(
        ffn_fake, {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    )
    assert status == 200


async def test_expiry_follows_the_server_clock() -> None:
    fake = FakeFFN(token_lifetime=2.0)
    tokens = fake.issue_token()
    assert tokens["expires_in"] == 2.0
    assert fake.is_valid_access_token(str(tokens["access_token"]))
    fake.clock.advance(2.5)
    assert not fake.is_valid_access_token(str(tokens["access_token"]))
    assert not fake.is_valid_access_token("not-a-token")


@pytest.mark.ffn_fake(scopes=["ffn.merchant.read"], include_scope=True)
async def test_configured_scopes_and_scope_field(ffn_fake: RunningFake) -> None:
    body = await _login(ffn_fake)
    assert body["scope"] == "ffn.merchant.read"
    assert _claims(str(body["access_token"]))["scopes"] == ["ffn.merchant.read"]


async def test_default_scopes_when_none_requested() -> None:
    claims = _claims(str(FakeFFN().issue_token()["access_token"]))
    assert claims["scopes"] == list(DEFAULT_SCOPES)


async def test_token_endpoint_faults(ffn_fake: RunningFake) -> None:
    tokens = ffn_fake.server.issue_token()
    form = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    creds = ffn_fake.credentials
    auth = {"Authorization": basic(creds.client_id, creds.client_secret)}
    async with aiohttp.ClientSession() as session:
        ffn_fake.server.oauth.token_fault = "html"
        async with session.post(ffn_fake.environment.token_url, data=form, headers=auth) as resp:
            assert resp.status == 502
            assert resp.content_type == "text/html"
        assert ffn_fake.stats.refreshes == 0  # the proxy page: nothing processed
        ffn_fake.server.oauth.token_fault = "truncated_json"
        async with session.post(ffn_fake.environment.token_url, data=form, headers=auth) as resp:
            assert resp.status == 200
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(await resp.read())
        assert ffn_fake.stats.refreshes == 1  # processed, answer lost: the token is spent


@pytest.mark.ffn_fake(token_latency=0.2)
async def test_concurrent_refreshes_with_one_token_rotate_exactly_once(
    ffn_fake: RunningFake,
) -> None:
    tokens = ffn_fake.server.issue_token()
    form = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    results = await asyncio.gather(*(_post_token(ffn_fake, form) for _ in range(50)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * 49
    assert ffn_fake.stats.refreshes == 1
    assert ffn_fake.stats.reuse_attempts == 49
    # The winner's new tokens died with the family.
    winner = next(body for status, body in results if status == 200)
    assert not ffn_fake.server.is_valid_access_token(str(winner["access_token"]))
