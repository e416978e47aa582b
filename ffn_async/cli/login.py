"""The logins: the browser's redirect caught on loopback, or the redirect pasted by hand.

:class:`RedirectCatcher` listens on the redirect URI's host and port and answers the first
request to its path; :func:`browser_login` drives the authorization-code flow around it. The
demo uses the same code with a scripted "browser" instead of a person. :func:`paste_login` is
the same flow where neither a browser nor a reachable port is at hand (a server, CI): the
person opens the URL anywhere and pastes back the address the browser was sent to.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType

from aiohttp import web
from yarl import URL

from ..auth.manager import TokenManager
from ..errors import AuthError
from ..token import Token

__all__ = ["LoginTimeout", "RedirectCatcher", "browser_login", "paste_login", "read_pasted"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ffn-async</title></head>"
    "<body style='font-family:sans-serif'><h1>{title}</h1><p>{text}</p></body></html>"
)


class LoginTimeout(AuthError):
    """No authorization redirect reached the local server in time."""


class RedirectCatcher:
    """Serve ``redirect_uri``'s path on loopback until one redirect arrives.

    ``async with RedirectCatcher(uri) as catcher``: :attr:`redirect_uri` is the URI actually
    served (port 0 in ``uri`` picks a free one); :meth:`wait` returns the redirect's query, and
    the browser's page waits for :meth:`finish` so it can tell the person how it ended.
    """

    def __init__(self, redirect_uri: str) -> None:
        url = URL(redirect_uri)
        if url.scheme != "http" or url.host not in _LOOPBACK:
            raise ValueError(
                f"the redirect URI {redirect_uri!r} is not on this machine; `ffn-async login` "
                "needs an http://127.0.0.1:<port>/<path> (or localhost) redirect URI registered "
                "for your app"
            )
        self.redirect_uri = str(url)
        self._url = url
        self._runner: web.AppRunner | None = None
        self._query: asyncio.Future[Mapping[str, str]] | None = None
        self._outcome: asyncio.Future[str | None] | None = None

    async def __aenter__(self) -> RedirectCatcher:
        loop = asyncio.get_running_loop()
        self._query, self._outcome = loop.create_future(), loop.create_future()
        app = web.Application()
        app.router.add_get(self._url.path or "/", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        host = "127.0.0.1" if self._url.host == "localhost" else self._url.host.strip("[]")  # type: ignore[union-attr]
        # Port 0 asks for a free port; "or 80" would turn it into port 80.
        port = 80 if self._url.port is None else self._url.port
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise OSError(
                exc.errno,
                f"cannot listen on {self._url.host}:{self._url.port} for the redirect "
                f"({exc.strerror}); is another login running?",
            ) from None
        port = self._runner.addresses[0][1]
        self.redirect_uri = str(self._url.with_port(port))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result("the login was abandoned")
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._query is not None
        assert self._outcome is not None
        if self._query.done():
            return _page(409, "Already handled", "This login has already been completed.")
        self._query.set_result(dict(request.query))
        try:
            error = await asyncio.wait_for(asyncio.shield(self._outcome), 60)
        except TimeoutError:
            error = "the login did not finish in time"
        if error:
            return _page(400, "Login failed", error + ". Return to the terminal.")
        return _page(200, "Logged in", "ffn-async stored the token. You can close this tab.")

    async def wait(self, timeout: float) -> Mapping[str, str]:
        """The query of the first redirect; :class:`LoginTimeout` after ``timeout`` seconds."""
        assert self._query is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._query), timeout)
        except TimeoutError:
            raise LoginTimeout(
                f"no authorization redirect reached {self.redirect_uri} within {timeout:g}s; "
                "open the printed URL in a browser on this machine and approve the access"
            ) from None

    def finish(self, error: str | None) -> None:
        """Tell the waiting browser page how the login ended (``None``: success)."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(error)


def _page(status: int, title: str, text: str) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(status=status, text=body, content_type="text/html")


async def browser_login(
    auth: TokenManager,
    catcher: RedirectCatcher,
    scopes: Iterable[str],
    open_url: Callable[[str], Awaitable[object]],
    *,
    timeout: float,
) -> Token:
    """Run the authorization-code flow and store the token; ``catcher`` must be serving.

    ``open_url`` shows the authorize URL to the person (or, in the demo, fetches it). The
    redirect's ``state`` is checked in constant time before the code is exchanged.
    """
    url, state = auth.authorization_url(scopes)
    opener = asyncio.ensure_future(open_url(url))
    waiter = asyncio.ensure_future(catcher.wait(timeout))
    try:
        await asyncio.wait({opener, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done() and opener.exception() is not None:
            raise opener.exception()  # type: ignore[misc]
        query = await waiter
        if "error" in query:
            detail = query.get("error_description") or query["error"]
            raise AuthError(f"the authorization server refused the login: {detail}")
        if not query.get("code"):
            raise AuthError("the redirect carried neither a code nor an error")
        token = await auth.exchange_code(
            query["code"], state=query.get("state", ""), expected_state=state
        )
    except BaseException as exc:
        catcher.finish(str(exc).split(". ")[0] or type(exc).__name__)
        raise
    finally:
        waiter.cancel()
        catcher.finish(None)
        # Give a scripted browser the moment it needs to read the final page.
        await asyncio.wait([opener], timeout=5)
        opener.cancel()
        if opener.done() and not opener.cancelled():
            opener.exception()  # seen: a browser failing after the redirect does not matter
    return token


def read_pasted(text: str) -> tuple[str, str | None]:
    """``(code, state)`` from what a person pasted: the address the browser was redirected to
    (its query, or the query alone), or the bare code (then ``state`` is ``None``).

    An ``error`` in the address (the person declined) raises :class:`AuthError`.
    """
    text = text.strip()
    if not text:
        raise AuthError("nothing was pasted: paste the address your browser was sent to")
    if "=" not in text:  # a bare code carries no query syntax
        if any(c.isspace() for c in text):
            raise AuthError("that is not an authorization code: paste the whole address")
        return text, None
    query = URL(text).query if "://" in text else URL("?" + text.lstrip("?")).query
    if "error" in query:
        detail = query.get("error_description") or query["error"]
        raise AuthError(f"the authorization server refused the login: {detail}")
    code = query.get("code")
    if not code:
        raise AuthError("the pasted address carries no code: paste the whole address")
    return code, query.get("state", "")


async def paste_login(
    auth: TokenManager,
    scopes: Iterable[str],
    show: Callable[[str], None],
    read: Callable[[], Awaitable[str]],
    *,
    timeout: float,
) -> Token:
    """The authorization-code flow without a redirect catcher: ``show`` the authorize URL,
    ``read`` what the person pastes (see :func:`read_pasted`), exchange the code, store it.

    A pasted address must bring back the ``state`` sent (compared in constant time, else
    :class:`~ffn_async.errors.InvalidState`); a bare code has none to check. The person
    copied it from a page they opened themselves, which is what ``state`` protects.
    """
    url, state = auth.authorization_url(scopes)
    show(url)
    try:
        pasted = await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise LoginTimeout(f"nothing was pasted within {timeout:g}s") from None
    code, returned = read_pasted(pasted)
    if returned is None:
        return await auth.exchange_code(code)
    return await auth.exchange_code(code, state=returned, expected_state=state)
