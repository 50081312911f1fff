"""Writing the files a run produces: whole or not at all.

Every file pytest-ragcost writes (ragcost.yaml on a bless, the score and judge records
beside it, the JSON and Markdown outputs, a seeded tokenizer cache) goes through here, so
a reader sees the old file or the new one, never half of either. A leaf module: it
imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_bytes_atomic", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` encoded as UTF-8 (newlines written as given)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a temporary file in the same directory,
    flushed to disk, then renamed over the target. An existing file keeps its mode; a new
    one gets the mode the umask allows. On failure the target is unchanged, the temporary
    file is removed and the ``OSError`` is raised."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # the rename is durable only once the directory entry is on disk too
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
