"""``RedirectCatcher``: where the login's local redirect server listens."""

from __future__ import annotations

from yarl import URL

from ffn_async.cli.login import RedirectCatcher


async def test_port_zero_picks_a_free_port_for_each_login() -> None:
    """``:0`` in the redirect URI (as the demo registers) means any free port, not port 80,
    so two logins at once do not collide."""
    async with (
        RedirectCatcher("http://127.0.0.1:0/callback") as first,
        RedirectCatcher("http://127.0.0.1:0/callback") as second,
    ):
        ports = {URL(first.redirect_uri).port, URL(second.redirect_uri).port}
        assert len(ports) == 2
        assert not ports & {0, 80}
        assert URL(first.redirect_uri).path == "/callback"
