"""The first hour's traps of issue 23, each as a user of the command meets it."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import orjson
import pytest

from ffn_async import TokenManager
from ffn_async.cli import build_parser, main
from ffn_async.cli.config import settings_from, unknown_variables
from ffn_async.cli.help import plain
from ffn_async.testing.pytest_plugin import RunningFake

from .conftest import one_line_error

# ------------------------------------------------------------------ store and variables


async def test_a_memory_store_is_refused_because_it_forgets_the_login(cli_env, run_cli) -> None:
    result = await run_cli("--store", "memory://", "token", "status")
    assert result.code == 2
    assert "memory:// forgets the login" in one_line_error(result)


async def test_the_command_reaches_a_redis_prefix_through_the_url(cli_env, run_cli) -> None:
    # Not connected: a misspelt database is refused before anything is sent.
    result = await run_cli("--store", "redis://127.0.0.1:6379/eleven?prefix=app:", "whoami")
    assert result.code == 2
    assert "database number" in one_line_error(result)


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles() -> None:
    env = {"FFN_CLIENTID": "x", "FFN_TOKENSTORE": "y", "FFN_MY_OWN_THING": "z"}
    assert unknown_variables(env) == [
        "FFN_CLIENTID is not a setting of ffn-async and is ignored: FFN_CLIENT_ID?",
        "FFN_TOKENSTORE is not a setting of ffn-async and is ignored: FFN_TOKEN_STORE?",
    ]


async def test_the_command_warns_of_a_misspelt_variable(
    logged_in: TokenManager, monkeypatch, run_cli
) -> None:
    monkeypatch.setenv("FFN_ACOUNT", "other")
    result = await run_cli("token", "status")
    assert result.code == 0
    assert "ffn-async: warning: FFN_ACOUNT is not a setting" in result.err
    assert "FFN_ACCOUNT?" in result.err


@pytest.mark.parametrize(
    "text", ["ffn.merchant.read,ffn.merchant.write", "ffn.merchant.read, ffn.merchant.write"]
)
def test_comma_separated_scopes_are_two_scopes(text: str) -> None:
    settings = settings_from(build_parser().parse_args(["whoami"]), {"FFN_SCOPES": text})
    assert settings.scopes == ("ffn.merchant.read", "ffn.merchant.write")


# ------------------------------------------------------------------ the API's URL and origin


async def test_an_api_url_without_api_gets_that_hint_not_the_portal_one(
    logged_in: TokenManager, ffn_fake: RunningFake, monkeypatch, run_cli
) -> None:
    monkeypatch.setenv("FFN_API_URL", str(ffn_fake.environment.api_url.origin()))
    result = await run_cli("whoami")
    assert result.code == 1
    line = one_line_error(result)
    assert "404" in line
    assert "not one ending in /api" in line
    assert "add /api to FFN_API_URL" in line
    assert "portal" not in line


async def test_api_refuses_a_url_of_another_origin(logged_in: TokenManager, run_cli) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        other.settimeout(0.2)
        port = other.getsockname()[1]
        result = await run_cli("api", "GET", f"http://127.0.0.1:{port}/api/v1/users/current")
        with pytest.raises(TimeoutError):
            other.accept()  # nothing connected
    assert result.code == 2
    assert "is not on the API's origin" in one_line_error(result)


async def test_api_takes_a_url_on_the_apis_own_origin(
    logged_in: TokenManager, ffn_fake: RunningFake, run_cli
) -> None:
    result = await run_cli("api", "GET", f"{ffn_fake.environment.api_url}/v1/users/current")
    assert result.code == 0, result.err
    assert orjson.loads(result.out)["userId"] == "MERC"


async def test_token_status_says_where_the_environment_came_from(
    logged_in: TokenManager, cli_env, monkeypatch, run_cli
) -> None:
    for name in ("FFN_API_URL", "FFN_AUTHORIZE_URL", "FFN_TOKEN_URL"):
        monkeypatch.delenv(name)
    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    # "production" is only the configured default; the token's own origin is "issued_for".
    assert (status["environment"], status["environment_from"]) == ("production", "default")
    monkeypatch.setenv("FFN_ENVIRONMENT", "sandbox")
    status = orjson.loads((await run_cli("token", "status", "--json")).out)
    assert (status["environment"], status["environment_from"]) == ("sandbox", "FFN_ENVIRONMENT")


# ------------------------------------------------------------------ fake-server options


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--drop", "1.5"], "argument --drop: must be a share from 0 to 1"),
        (["--rate-limit", "-0.1"], "argument --rate-limit: must be a share from 0 to 1"),
        (["--token-lifetime", "-5"], "argument --token-lifetime: must be greater than 0"),
        (["--token-latency", "-1"], "argument --token-latency: must be 0 or more"),
        (["--port", "70000"], "argument --port: must be a port from 0 to 65535"),
    ],
)
def test_fake_server_refuses_bad_values_as_usage_errors(
    argv: list[str], message: str, capsys
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["fake-server", *argv])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------------ output


def _keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in (k, *_keys(v))]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


async def test_json_output_is_snake_case_throughout(logged_in: TokenManager, run_cli) -> None:
    for argv in (("whoami",), ("token", "status"), ("token", "refresh")):
        result = await run_cli(*argv, "--json")
        assert result.code == 0, result.err
        keys = _keys(orjson.loads(result.out))
        assert keys
        assert all(re.fullmatch(r"[a-z_]+", key) for key in keys), (argv, keys)
    assert orjson.loads((await run_cli("whoami", "--json")).out)["user_id"] == "MERC"


async def test_errors_under_json_are_json(cli_env, run_cli) -> None:
    result = await run_cli("whoami", "--json")  # nobody logged in
    assert result.code == 3
    assert result.out == ""
    error = orjson.loads(result.err.strip().splitlines()[-1])
    assert error["exit_code"] == 3
    assert error["type"] == "TokenMissing"
    assert "ffn-async login" in error["error"]


def test_help_shows_no_sphinx_markup(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["outbox", "--help"])
    text = capsys.readouterr().out
    assert "``" not in text
    assert ":mod:" not in text
    assert "ffn_async.ordersync.outbox" in text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see :class:`~ffn_async.ordersync.outbox.Outbox`", "see Outbox"),
        ("see :func:`title <ffn_async.x>`", "see title"),
        ("``ffn-async outbox list``: the list", "ffn-async outbox list: the list"),
    ],
)
def test_plain_makes_roles_readable(text: str, shown: str) -> None:
    assert plain(text) == shown


def test_bash_completion_completes_commands_and_options(capsys, tmp_path: Path) -> None:
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "complete.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in ("ffn-async", *words))
        shell = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _ffn_async; "
            'echo "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("tok") == ["token"]
    assert complete("token", "st") == ["status"]
    assert complete("--account", "x", "outbox", "re") == ["replay", "retry"]
    assert "--show-secrets" in complete("token", "status", "--")
