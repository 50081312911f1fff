"""Writing the files a run produces: whole or not at all, and never someone else's.

Every file pytest-ragcost writes (ragcost.yaml on a bless, the score and judge records
beside it, the JSON and Markdown outputs, a seeded tokenizer cache) goes through here.
The rules, because these are files users own:

* a regular file is replaced atomically (a temporary file in the same directory, flushed,
  renamed over it), so a reader sees the old file or the new one, never half of either;
  it keeps its mode (and, when we run as root, its owner);
* a symlink is written through: its target is replaced, the link stays a link;
* a character device or a pipe (``/dev/null``, ``/dev/stdout``, a FIFO) is written into,
  never replaced; a device that cannot take the data (``/dev/full``) raises the ``OSError``;
* anything else that is not a regular file (a directory, a socket, a block device) is
  refused with an ``OSError`` saying what it is;
* :func:`locked` serialises read-modify-write cycles (two blesses at once) so the second
  waits, then reads what the first wrote. It is re-entrant within a thread, so a bless
  can hold it across all the files it writes while each file's writer takes it too.

A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: filelock's lock file there
    fcntl = None  # type: ignore[assignment]

__all__ = ["locked", "real_path", "write_bytes_atomic", "write_text_atomic"]


def append_step_summary(markdown: str | None) -> str | None:
    """Append ``markdown`` to the file ``$GITHUB_STEP_SUMMARY`` names (GitHub Actions'
    job summary), when it is set. Returns the problem to report, or ``None``."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path or markdown is None:
        return None
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown)
    except OSError as exc:
        return f"could not append to GITHUB_STEP_SUMMARY: {exc}"
    return None


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` encoded as UTF-8 (newlines written as given)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def real_path(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` lands in: symlinks followed to their final target
    (which may not exist yet). A symlink loop raises ``OSError(ELOOP)``."""
    target = Path(path)
    try:
        os.stat(target)
    except FileNotFoundError:
        pass  # a new file, or a dangling link whose target we create
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symlink loop (a link that leads back to itself)",
                          str(target)) from None
        raise
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` by the rules in the module docstring. On failure the
    target is unchanged, a temporary file is removed and the ``OSError`` is raised."""
    given = Path(path)
    try:
        info: os.stat_result | None = os.stat(given)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symlink loop (a link that leads back to itself)",
                          str(given)) from None
        raise
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            # opened by the name given: /dev/stdout resolves through /proc to whatever
            # stdout is, which no path string names
            _write_into(given, data)
            return
        raise OSError(errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EINVAL,
                      f"is {_kind(info.st_mode)}; give the path of a file", str(given))
    target = real_path(given)
    directory = target.parent if str(target.parent) else Path(".")
    if info is not None:
        mode = stat.S_IMODE(info.st_mode)
    else:
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
        if info is not None and os.geteuid() == 0:
            with contextlib.suppress(OSError):  # root keeps the user's file the user's
                os.chown(tmp, info.st_uid, info.st_gid)
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


def _write_into(path: Path, data: bytes) -> None:
    """Write into a character device or a pipe (no rename, no truncation of a device)."""
    try:
        # non-blocking open: a FIFO nobody reads fails with ENXIO instead of hanging
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, "is a pipe that no process is reading",
                          str(path)) from None
        raise
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


#: the name of the lock file where ``flock`` is missing (see :func:`locked`); it exists
#: only while a writer holds the lock
LOCK_NAME = ".ragcost.lock"

_held = threading.local()  # directory -> depth, per thread
_warned: list[bool] = []  # the LockWarning is said once per process


class LockWarning(UserWarning):
    """Files beside ragcost.yaml are written without a lock on this system."""


@contextlib.contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of ``path``; a second writer (another
    pytest run blessing at the same time) waits here, then reads what the first wrote.

    One lock per directory: ragcost.yaml and the files beside it are written under the
    same one. Where ``fcntl`` exists it is ``flock`` on the directory itself, not on a lock
    file beside it: it leaves nothing behind in the user's tree, and it survives the
    atomic rename (a lock on the file itself would stay on the replaced inode). Elsewhere
    (Windows) it is a ``filelock`` lock file, :data:`LOCK_NAME`, in that directory (Windows
    removes it again on release); without either, the write goes ahead with a
    :class:`LockWarning`. Where the directory cannot be opened the write that follows
    fails with its own, clearer error.
    """
    directory = real_path(path).parent
    key = os.path.normcase(os.path.abspath(directory if str(directory) else "."))
    depths: dict[str, int] = getattr(_held, "depths", None) or {}
    _held.depths = depths
    if depths.get(key):
        depths[key] += 1  # this thread holds it already (a bless around each file's write)
        try:
            yield
        finally:
            depths[key] -= 1
        return
    with _lock_directory(key):
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)


@contextlib.contextmanager
def _lock_directory(directory: str) -> Iterator[None]:
    if fcntl is not None:
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
        return
    lock = _file_lock(os.path.join(directory, LOCK_NAME))
    if lock is None:
        yield
        return
    try:
        lock.acquire()
    except OSError:
        yield  # an unwritable directory: the write that follows says so
        return
    try:
        yield
    finally:
        lock.release()


def _file_lock(path: str) -> Any:
    """A ``filelock`` lock on ``path``, or ``None`` (with a warning) where filelock is not
    installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # filelock's "only soft file lock" on import
            import filelock
    except ImportError:
        if _warned:
            return None
        _warned.append(True)
        warnings.warn(
            LockWarning(
                "pytest-ragcost: this system has no fcntl, and filelock is not installed, "
                "so ragcost.yaml and the files beside it are written without a lock: two "
                "blesses at once may lose each other's baselines (pip install filelock)"
            ),
            stacklevel=4,
        )
        return None
    return filelock.FileLock(path)
