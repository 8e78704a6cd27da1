"""An inter-process lock on a file, so two `hyperfields` runs never claim the same version.

Uses `fcntl.flock` (POSIX) or `msvcrt.locking` (Windows). The OS drops the lock when the
process dies, so a crashed run never leaves the store locked. Lock files are never deleted:
deleting a lock file while another process waits on it would let a third one in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hyperfields_cli.errors import UserError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextmanager
def file_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block.

    Raises UserError after `timeout` seconds instead of hanging forever.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise UserError(
                    f"the artifact store is locked by another process ({path})",
                    hint="wait for the other hyperfields run to finish, then retry",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
