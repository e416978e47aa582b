"""Writing a file so that nobody ever sees half of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["replacing"]


@contextlib.asynccontextmanager
async def replacing(target: Path) -> AsyncIterator[BinaryIO]:
    """A new file that becomes ``target`` only once complete.

    It is written beside ``target`` under a temporary name and renamed over it when the block
    ends without an exception; on any failure (cancellation included) it is removed and
    ``target`` stays as it was. Blocking calls run in a thread; so should the caller's writes.
    """
    fd, tmp = await asyncio.to_thread(
        tempfile.mkstemp, dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        await asyncio.to_thread(os.replace, tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # also on cancellation: quick, so done inline
            os.unlink(tmp)
        raise
