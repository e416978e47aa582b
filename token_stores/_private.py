"""Private files for secrets: directories ``0700``, files ``0600``, whatever the umask.

``mkdir``/``open`` modes are only upper bounds (the umask removes bits, and SQLite creates its
database ``0644``), so what this module creates it ``chmod``s to the exact mode. What already
exists it leaves alone (a deployment may share a group on purpose) but logs a warning when
group or others can read, write or enter it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["check_private", "ensure_private_dir", "ensure_private_file"]

log = logging.getLogger(__name__)

_EXPOSED = stat.S_IRWXG | stat.S_IRWXO


def check_private(path: Path, what: str, mode: int | None = None) -> None:
    """Log a warning if ``path`` exists and group or others have any access to it.

    ``mode``: the file's ``st_mode`` if the caller already has it (from ``fstat``).
    """
    if mode is None:
        try:
            mode = path.stat().st_mode
        except OSError:
            return
    mode = stat.S_IMODE(mode)
    if mode & _EXPOSED:
        wanted = 0o700 if path.is_dir() else 0o600
        log.warning(
            "%s %s has mode %04o: other users of this machine can reach the tokens in it; "
            "run: chmod %o %s",
            what,
            path,
            mode,
            wanted,
            path,
        )


def ensure_private_dir(
    path: Path, what: str = "token store directory", *, check: bool = True
) -> None:
    """Create ``path`` (and missing parents) with mode ``0700``, or check an existing one."""
    if path.is_dir():
        if check:
            check_private(path, what)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:  # another process won the race: it set the mode
        check_private(path, what)
        return
    os.chmod(path, 0o700)


def ensure_private_file(path: Path, what: str = "token file") -> None:
    """Create an empty ``path`` with mode ``0600`` if missing, or check an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        check_private(path, what)
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
