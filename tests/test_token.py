"""Direct tests of :mod:`ffn_async.token`: parsing, expiry, storage form and redaction."""

from __future__ import annotations

import math

import attrs
import orjson
import pytest

from ffn_async import Environment, StoredToken
from ffn_async.auth.record import decode_record, encode_record
from ffn_async.token import MAX_EXPIRES_IN, ClientCredentials, Token, TokenOrigin, fingerprint
from tests.conftest import make_jwt
from token_stores import CorruptRecord, Record

NOW = 1_750_000_000.0
ACCESS = "access-token-value-0123456789"
REFRESH = "refresh-token-value-9876543210"


def _token(**payload: object) -> Token:
    return Token.from_response(
        {"access_token": ACCESS, "refresh_token": REFRESH, **payload}, now=NOW
    )


def test_from_response_computes_expiry_from_expires_in() -> None:
    token = _token(expires_in=600, scope="ffn.merchant.read ffn.merchant.write")
    assert token.expires_at == NOW + 600
    assert token.issued_at == NOW
    assert token.token_type == "Bearer"
    assert token.scopes == ("ffn.merchant.read", "ffn.merchant.write")
    assert token.expires_in(now=NOW + 100) == 500
    assert not token.is_expired(now=NOW + 599)
    assert token.is_expired(now=NOW + 600)
    assert token.is_expired(leeway=60, now=NOW + 540)


def test_expires_in_defaults_to_1800_and_accepts_a_numeric_string() -> None:
    assert _token().expires_at == NOW + 1800
    assert _token(expires_in=" 90 ").expires_at == NOW + 90
    assert _token(expires_in=MAX_EXPIRES_IN).expires_at == NOW + MAX_EXPIRES_IN


@pytest.mark.parametrize(
    "bad", [0, -5, math.inf, math.nan, "inf", "nan", "1e3", True, [60], MAX_EXPIRES_IN + 1, 10**400]
)
def test_unusable_expires_in_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        _token(expires_in=bad)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({}, "no access_token"),
        ({"access_token": ""}, "no access_token"),
        ({"access_token": 5}, "no access_token"),
        ({"access_token": "has space"}, "cannot carry"),
        ({"access_token": "a\r\nX-Injected: 1"}, "cannot carry"),
        ({"access_token": "x" * 16385}, "cannot carry"),
        ({"access_token": ACCESS, "refresh_token": 7}, "not a string"),
        ({"access_token": ACCESS, "refresh_token": "line\nbreak"}, "cannot carry"),
    ],
)
def test_from_response_refuses_what_could_not_be_stored_or_sent(
    payload: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        Token.from_response(payload, now=NOW)


def test_scopes_come_from_the_jwt_when_the_response_has_none() -> None:
    token = Token.from_response({"access_token": make_jwt(("ffn.merchant.read",))}, now=NOW)
    assert token.scopes == ("ffn.merchant.read",)
    assert token.refresh_token is None
    assert Token.from_response({"access_token": ACCESS}, now=NOW).scopes is None


def test_salvage_repairs_every_unusable_field_and_names_each_in_the_order_read() -> None:
    token, problems = Token.salvage(
        {"access_token": "has space", "refresh_token": REFRESH, "expires_in": "soon"}, now=NOW
    )
    assert problems == (
        "access_token holds characters a bearer token cannot carry",
        "expires_in is not a number of seconds",
    )
    assert token == Token(
        access_token="", refresh_token=REFRESH, expires_at=NOW, scopes=None, issued_at=NOW
    )
    no_access, problems = Token.salvage(
        {"refresh_token": REFRESH, "expires_in": 10**400, "token_type": "bearer"}, now=NOW
    )
    assert problems[0] == "the response has no access_token"
    assert problems[1].startswith("expires_in must be a finite number")
    assert (no_access.access_token, no_access.expires_at, no_access.token_type) == (
        "",
        NOW,
        "bearer",
    )
    assert (
        Token.salvage(
            {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 400 * 86400}, now=NOW
        )[0].expires_at
        == NOW + MAX_EXPIRES_IN
    )
    with pytest.raises(ValueError, match="refresh_token is not a string"):
        Token.salvage({"access_token": ACCESS, "refresh_token": 7, "expires_in": 0}, now=NOW)
    with pytest.raises(ValueError, match="the response has no refresh_token"):
        Token.salvage({"access_token": ACCESS}, now=NOW)


def test_an_empty_refresh_token_is_none_and_no_problem() -> None:
    assert _token(refresh_token="").refresh_token is None


def test_refresh_is_due_before_expiry_but_never_before_half_the_life() -> None:
    long_lived = _token(expires_in=1800)
    assert long_lived.refresh_due_at(leeway=60) == NOW + 1740
    short = _token(expires_in=2)
    assert short.refresh_due_at(leeway=60) == NOW + 1  # half of 2 s, not 58 s ago
    unknown_issue = Token(access_token=ACCESS, refresh_token=None, expires_at=NOW + 2)
    assert unknown_issue.refresh_due_at(leeway=60) == NOW - 58


def test_to_dict_and_from_dict_round_trip() -> None:
    token = _token(expires_in=600, scope="a b")
    assert Token.from_dict(token.to_dict()) == token
    assert token.with_refresh_token("other").refresh_token == "other"
    assert token.with_refresh_token(None).refresh_token is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"access_token": ACCESS}, KeyError),
        ({"access_token": ACCESS, "expires_at": "nan"}, ValueError),
        ({"access_token": ACCESS, "expires_at": 1.0, "refresh_token": 5}, TypeError),
    ],
)
def test_from_dict_refuses_a_malformed_record(data: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        Token.from_dict(data)


def test_token_repr_and_str_show_no_secret() -> None:
    token = _token(expires_in=600)
    for text in (repr(token), str(token), f"{token}"):
        assert ACCESS not in text
        assert REFRESH not in text
        assert f"<{fingerprint(ACCESS)}>" in text
        assert "refresh_token=<redacted>" in text


def test_fingerprint_is_short_stable_and_not_the_secret() -> None:
    assert fingerprint(ACCESS) == fingerprint(ACCESS)
    assert len(fingerprint(ACCESS)) == 8
    assert fingerprint(ACCESS) != fingerprint(REFRESH)
    assert _token().fingerprint == fingerprint(ACCESS)


def test_client_credentials_redact_the_secret() -> None:
    creds = ClientCredentials("my-client", "very-secret-value", "http://127.0.0.1:8765/callback")
    for text in (repr(creds), str(creds), f"{creds!r}"):
        assert "very-secret-value" not in text
        assert "client_secret=<redacted>" in text
        assert "my-client" in text


@pytest.mark.parametrize(
    ("client_id", "secret", "match"),
    [
        ("", "s", "client_id must be a non-empty string"),
        ("a:b", "s", "client_id must not contain ':'"),
        ("id", "", "client_secret must be a non-empty string"),
    ],
)
def test_client_credentials_refuse_unusable_values(client_id: str, secret: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ClientCredentials(client_id, secret)


# ------------------------------------------------------------------ where a token was issued


FAKE_ORIGIN = TokenOrigin("fake", "http://127.0.0.1:9/api", "http://127.0.0.1:9/token")


def test_the_origin_round_trips_through_the_dict_and_the_record() -> None:
    token = attrs.evolve(_token(access_token="a", refresh_token="r"), issued_for=FAKE_ORIGIN)
    assert Token.from_dict(token.to_dict()) == token
    assert token.to_dict()["issued_for"] == {
        "environment": "fake",
        "api_url": "http://127.0.0.1:9/api",
        "token_url": "http://127.0.0.1:9/token",
    }
    stored = decode_record("acct", Record(encode_record("acct", StoredToken(token, None)), 3))
    assert stored.token == token


def test_a_0_1_0_token_dict_reads_without_an_origin() -> None:
    old = _token(access_token="a", refresh_token="r").to_dict()
    del old["issued_for"]
    assert Token.from_dict(old).issued_for is None


@pytest.mark.parametrize(
    "bad", ["fake", {"environment": "fake"}, {**FAKE_ORIGIN.to_dict(), "api_url": 1}]
)
def test_a_malformed_origin_is_a_corrupt_record(bad: object) -> None:
    data = {**_token(access_token="a", refresh_token="r").to_dict(), "issued_for": bad}
    with pytest.raises(TypeError):
        Token.from_dict(data)
    record = orjson.dumps({"format": 1, "token": data})
    with pytest.raises(CorruptRecord):
        decode_record("acct", Record(record, 1))


def test_the_named_environments_are_told_apart_by_their_api() -> None:
    production = TokenOrigin.of(Environment.PRODUCTION)
    sandbox = TokenOrigin.of(Environment.SANDBOX)
    assert production.token_url == sandbox.token_url  # one token endpoint for both
    assert production != sandbox


@pytest.mark.parametrize(
    ("expires_in", "kept"),
    [
        (10**400, MAX_EXPIRES_IN),  # too large for a float: as long as inf, clamped
        (math.inf, MAX_EXPIRES_IN),
        (400 * 86400, MAX_EXPIRES_IN),
        (-(10**400), 1800.0),  # not positive: the default
        ("soon", 1800.0),
    ],
)
def test_an_expires_in_beyond_the_limit_is_clamped_however_it_is_written(
    expires_in: object, kept: float
) -> None:
    token, problems = Token.salvage(
        {"access_token": ACCESS, "refresh_token": "r", "expires_in": expires_in}, now=NOW
    )
    assert token.expires_at == NOW + kept
    assert len(problems) == 1
