"""Settings resolution, the default store and the terminal rendering helpers."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from ffn_async import Environment
from ffn_async.cli.config import ConfigError, default_store_url, redact_url, settings_from
from ffn_async.cli.render import Progress, table


def test_flags_win_over_variables_and_defaults_fill_the_rest() -> None:
    args = argparse.Namespace(client_id="flag-id", environment="sandbox")
    env = {"FFN_CLIENT_ID": "env-id", "FFN_CLIENT_SECRET": "s", "XDG_DATA_HOME": "/x"}
    settings = settings_from(args, env)
    assert settings.client_id == "flag-id"
    assert settings.environment == Environment.SANDBOX
    assert settings.account == "default"
    assert settings.scopes == ("ffn.merchant.read", "ffn.merchant.write")
    assert "client_secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FFN_ENVIRONMENT": "staging"}, "production, sandbox or custom"),
        ({"FFN_ENVIRONMENT": "custom", "FFN_API_URL": "http://a/api"}, "FFN_AUTHORIZE_URL"),
        ({"FFN_ENVIRONMENT": "sandbox", "FFN_API_URL": "http://a/api"}, "conflict"),
    ],
)
def test_environment_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from(argparse.Namespace(), env)


def test_default_store_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    assert default_store_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"


def test_store_passwords_are_redacted() -> None:
    assert redact_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"


def test_progress_draws_only_when_enabled() -> None:
    quiet, loud = io.StringIO(), io.StringIO()
    Progress(quiet).update(1, 2, "x", force=True)  # StringIO is not a TTY
    bar = Progress(loud, enabled=True)
    bar.update(15, 30, "orders", force=True)
    bar.close()
    assert quiet.getvalue() == ""
    assert loud.getvalue() == "\r[" + "#" * 15 + "." * 15 + "] 15/30 orders\n"


def test_table_aligns_columns() -> None:
    text = table([("a", "1"), ("long name", "22")], title="t")
    widths = {len(line) for line in text.splitlines()}
    assert len(widths) == 1
    assert "| long name | 22 |" in text
