"""What one HTTP exchange needs below the client and the token endpoint.

The :class:`~ffn_async.http._requester.Requester` protocol the API namespaces, pages, feeds and
safe creates are written against (so they never import the client), reading a body within a
size limit, the aiohttp sessions clients share per event loop, the check that a link stays on
the API's origin, and writing a download so nobody sees half of it. Nothing here knows of
tokens: :mod:`ffn_async.auth` sits above it and uses it for the token endpoint.
"""
