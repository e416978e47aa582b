"""Direct tests of :mod:`ffn_async.environment`: the presets and custom URLs."""

from __future__ import annotations

import attrs
import pytest
from yarl import URL

from ffn_async import Environment


def test_production_preset() -> None:
    env = Environment.PRODUCTION
    assert env.name == "production"
    assert env.api_url == URL("https://ffn2.api.jtl-software.com/api")
    assert env.authorize_url == URL("https://oauth2.api.jtl-software.com/authorize")
    assert env.token_url == URL("https://oauth2.api.jtl-software.com/token")
    assert env.api_origin == URL("https://ffn2.api.jtl-software.com")


def test_sandbox_preset_shares_the_oauth_server_but_not_the_api() -> None:
    env = Environment.SANDBOX
    assert env.name == "sandbox"
    assert env.api_url == URL("https://ffn-sbx.api.jtl-software.com/api")
    assert env.token_url == Environment.PRODUCTION.token_url
    assert env.authorize_url == Environment.PRODUCTION.authorize_url
    assert env.api_origin != Environment.PRODUCTION.api_origin


def test_custom_urls_from_strings_or_urls() -> None:
    env = Environment(
        api_url="http://127.0.0.1:8080/api",
        authorize_url=URL("http://127.0.0.1:8080/authorize"),
        token_url="http://127.0.0.1:8080/token",
    )
    assert env.name == "custom"
    assert isinstance(env.api_url, URL)
    assert isinstance(env.authorize_url, URL)
    assert str(env.token_url) == "http://127.0.0.1:8080/token"
    # The origin keeps a non-default port: only it gets the bearer token.
    assert env.api_origin == URL("http://127.0.0.1:8080")


@pytest.mark.parametrize(
    "bad", ["/api", "ftp://example.com/api", "example.com/api", "file:///etc/passwd", ""]
)
def test_a_url_that_is_not_absolute_http_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        Environment(api_url=bad, authorize_url="https://a.test/", token_url="https://a.test/t")
    with pytest.raises(ValueError, match="absolute http"):
        Environment(api_url="https://a.test/api", authorize_url="https://a.test/", token_url=bad)


def test_environments_are_frozen_values() -> None:
    env = Environment.SANDBOX
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        env.name = "x"  # type: ignore[misc]
    same = Environment(
        api_url=str(env.api_url),
        authorize_url=str(env.authorize_url),
        token_url=str(env.token_url),
        name="sandbox",
    )
    assert same == env
    assert hash(same) == hash(env)
