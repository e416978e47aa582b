"""The one check of a link the server sent: does it lead to the API's own origin?

The bearer token is only ever sent to the configured API. Every link followed on the server's
word (``nextPageLink``, ``nextChunkUrl``) and every absolute URL given to
:meth:`FFNClient.request <ffn_async.FFNClient.request>` is judged here.
"""

from __future__ import annotations

from yarl import URL

from ..errors import ForeignLinkError

__all__ = ["api_link", "on_origin"]


def on_origin(url: URL, origin: URL) -> bool:
    """Whether the absolute ``url`` is on ``origin`` (scheme, host and port all equal)."""
    return url.origin() == origin


def api_link(link: str, api: URL, *, relative: bool) -> URL:
    """``link`` as an absolute URL on the API's origin, or :class:`ForeignLinkError`.

    ``relative``: a path without a host is resolved against the API's origin (else it is
    refused). Refused as well, before anything is sent: backslashes (browsers and some servers
    read ``\\`` as ``/``, so ``/\\evil.example`` can mean another host), scheme-relative links
    (``//host/x``) to another host, and anything that does not parse as a URL.
    """
    origin = api.origin()
    if "\\" in link:
        raise ForeignLinkError(link, origin, reason="it contains a backslash")
    try:
        url = URL(link)
        if url.host is not None and not url.scheme:  # //host/path: the API's scheme
            url = URL(f"{api.scheme}:{link}")
        if not url.is_absolute():
            if not relative or url.scheme:  # "http:evil.example/x" has no host
                raise ForeignLinkError(link, origin, reason="it is not an absolute URL")
            url = origin.join(url)
        same = on_origin(url, origin)
    except ValueError:
        raise ForeignLinkError(link, origin, reason="it is not a valid URL") from None
    if not same:
        raise ForeignLinkError(link, origin)
    return url
