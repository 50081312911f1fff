"""Reading the files a user hands pytest-ragcost: bounded, checked, and located.

ragcost.yaml, the files beside it (``ragcost.items.json``, ``ragcost.scores.json``, the
judge record) and a saved run may come from anywhere: a merge conflict, an artifact of
another job, a hand edit, a hostile pull request. Every reader goes through here, so one
set of rules holds for all of them:

* **what the path is**: a missing file is ``None`` (the caller decides whether that is
  fine); a symlink is followed, but a dangling one or a loop is an error saying so; a
  directory, a pipe, a socket or a device is refused (a pipe would block the run, a
  device never ends) without being read;
* **size**: at most ``max_bytes`` are read;
* **encoding**: UTF-8 (a byte-order mark is allowed), an invalid byte is named with its
  line; UTF-16 is recognised and named as such;
* **JSON**: nesting at most :data:`MAX_DEPTH` deep, integers of at most
  :data:`MAX_INT_DIGITS` digits, no ``NaN`` or ``Infinity``, no float that overflows;
* **numbers**: :func:`number` bounds a value (finite, within ``[minimum, maximum]``, whole
  where a count is expected), with :data:`MAX_NUMBER` as the largest magnitude any
  figure of a run may have.

Every problem is an :class:`InputError` naming the file, the JSON path
(``scenarios.qa.items["a.b"].metrics.wall_ms``) or line, what was expected, what was
found and how to fix it. Nothing here raises anything else, whatever the bytes are.

A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NUMBER",
    "InputError",
    "at",
    "decode",
    "kind_of",
    "number",
    "parse_json",
    "read_bytes",
    "read_json",
]

#: nesting deeper than this is not a file pytest-ragcost wrote (the deepest it writes is
#: about 8)
MAX_DEPTH = 64
#: an integer literal with more digits than this is refused before Python converts it
MAX_INT_DIGITS = 30
#: the largest magnitude of any figure: beyond it no cost of an answer lies, and the
#: arithmetic of a comparison would overflow (the bound ragcost.yaml uses too)
MAX_NUMBER = 1e15
#: the largest whole count (a float holds every integer up to it)
MAX_COUNT = 2**53
#: the default size bound of a JSON input
DEFAULT_MAX_BYTES = 256 << 20


class InputError(ValueError):
    """An input file cannot be used; ``str()`` is the whole message for the user."""

    def __init__(self, file: str, what: str, *, where: str = "", line: int | None = None,
                 column: int | None = None, found: str = "", fix: str = "") -> None:
        self.file = file
        self.where = where
        self.line = line
        self.column = column
        self.what = what
        self.found = found
        self.fix = fix
        place = file if line is None else f"{file}:{line}"
        if line is not None and column is not None:
            place += f":{column}"
        if len(where) > 120:  # a hostile nesting must not make a page-long message
            where = f"{where[:60]}...{where[-50:]}"
        text = f"{place}: {where + ' ' if where else ''}{what}"
        if found:
            text += f" (found {found})"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


def kind_of(value: object) -> str:
    """How a found value is shown in a message: short, and never a whole document."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return f"the number {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, str):
        text = repr(value)
        return f"the string {text if len(text) <= 60 else text[:57] + '...'}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__


_PLAIN_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


def at(base: str, *keys: str | int) -> str:
    """A JSON path: ``at("scenarios", "qa", "items", "a.b")`` is
    ``scenarios.qa.items["a.b"]``; integers are list indexes."""
    out = base
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _PLAIN_KEY_RE.match(key):
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key, ensure_ascii=True)}]"
    return out


def _describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], *, display: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES, what: str = "file",
               fix: str = "") -> bytes | None:
    """The bytes of ``path``, or ``None`` when nothing is there.

    Raises :class:`InputError` for a dangling symlink, a symlink loop, anything that is
    not a regular file, an unreadable file and a file larger than ``max_bytes``."""
    p = Path(path)
    shown = str(path) if display is None else display
    try:
        info = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            try:
                target = os.readlink(p)
            except OSError:
                target = "?"
            raise InputError(shown, f"is a symlink to {target!r}, which does not exist",
                             fix=f"point the link at the {what}, or remove it") from None
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(shown, "is a symlink loop (a link that leads back to itself)",
                             fix=f"point the link at the {what}") from None
        if exc.errno == errno.ENOTDIR:
            raise InputError(shown, "cannot be read: a part of the path is not a directory",
                             fix="check the path") from None
        raise InputError(shown, f"cannot be read: {exc.strerror or exc}",
                         fix="check the path and its permissions") from None
    except ValueError as exc:  # a NUL byte in the path
        raise InputError(repr(shown), f"is not a usable path ({exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(shown, f"is {_describe_mode(info.st_mode)}, not a regular file",
                         fix=f"give the path of the {what}")
    if info.st_size > max_bytes:
        raise InputError(shown, f"is too large for a {what} (limit {max_bytes:,} bytes)",
                         found=f"{info.st_size:,} bytes", fix=fix)
    try:
        # O_NONBLOCK: if the file was swapped for a pipe since the stat, the open must not
        # wait for a writer
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(shown, f"cannot be read: {exc.strerror or exc}",
                         fix="check the path and its permissions") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise InputError(shown, f"is {_describe_mode(opened.st_mode)}, not a regular file",
                             fix=f"give the path of the {what}")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise InputError(shown, f"is too large for a {what} (limit {max_bytes:,} "
                                 "bytes)", found=f"more than {max_bytes:,} bytes", fix=fix)
    except OSError as exc:
        raise InputError(shown, f"cannot be read: {exc.strerror or exc}",
                         fix="check the path and its permissions") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode(data: bytes, display: str, *, what: str = "file", fix: str = "") -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(display, "is UTF-16 text", fix=f"save the {what} as UTF-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(display, "is not UTF-8 text", line=line,
                         found=f"byte 0x{data[exc.start]:02x} at offset {exc.start:,}",
                         fix=fix or f"save the {what} as UTF-8") from None


class _Refused(ValueError):
    def __init__(self, what: str, found: str) -> None:
        self.what = what
        self.found = found
        super().__init__(what)


def _parse_constant(name: str) -> float:
    raise _Refused("holds a value JSON does not allow", name)


def _walk(doc: object, display: str, max_depth: int, fix: str) -> None:
    """Refuse nesting deeper than ``max_depth``, integers longer than
    :data:`MAX_INT_DIGITS` digits and floats that overflowed, naming the JSON path."""
    limit = 10**MAX_INT_DIGITS
    # (value, depth, key, parent entry): the path is rebuilt only for a message
    stack: list[tuple[object, int, str | int | None, Any]] = [(doc, 1, None, None)]
    while stack:
        entry = stack.pop()
        value, depth = entry[0], entry[1]
        children: Any
        if isinstance(value, dict):
            children = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > max_depth:
            raise InputError(display, f"nests deeper than {max_depth} levels",
                             where=_path_of(entry), fix=fix)
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, key, entry))
            elif isinstance(child, float):
                if not math.isfinite(child):
                    raise InputError(display, "holds a number too large for a float",
                                     where=_path_of((child, 0, key, entry)), fix=fix)
            elif isinstance(child, int) and not isinstance(child, bool) and (
                    child >= limit or child <= -limit):
                raise InputError(display, f"holds an integer of more than {MAX_INT_DIGITS} "
                                 "digits", where=_path_of((child, 0, key, entry)), fix=fix)


def _path_of(entry: Any) -> str:
    keys: list[str | int] = []
    while entry is not None and entry[2] is not None:
        keys.append(entry[2])
        entry = entry[3]
    return at("", *reversed(keys)) or "the top level"


def parse_json(text: str, display: str, *, max_depth: int | None = MAX_DEPTH,
               what: str = "file", fix: str = "") -> Any:
    """Parse ``text`` by the rules in the module docstring.

    With ``max_depth=None`` the document is not walked: nesting is then bounded by the
    parser's own recursion limit only, and the caller's schema checks each value (the
    walk costs about as much as the parse on a large run)."""
    try:
        doc = json.loads(text, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(display, f"not valid JSON ({exc.msg})", line=exc.lineno,
                         column=exc.colno, fix=fix or f"this is not a {what} pytest-ragcost "
                         "wrote") from None
    except _Refused as exc:
        raise InputError(display, exc.what, found=exc.found, fix=fix) from None
    except RecursionError:
        raise InputError(display, "nests too deeply to be read",
                         fix=fix or f"this is not a {what} pytest-ragcost wrote") from None
    except ValueError:  # an integer literal beyond Python's digit limit
        raise InputError(display, f"holds an integer of more than {MAX_INT_DIGITS} digits",
                         fix=fix or f"this is not a {what} pytest-ragcost wrote") from None
    except MemoryError:
        raise InputError(display, "is too large to read into memory", fix=fix) from None
    if max_depth is not None:
        _walk(doc, display, max_depth, fix)
    return doc


def read_json(path: str | os.PathLike[str], *, display: str | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int | None = MAX_DEPTH,
              what: str = "file", fix: str = "") -> Any:
    """The JSON document in ``path``, or ``None`` when the file does not exist.

    ``what`` names the file in messages ("per-item baseline file"), ``fix`` says how to
    repair it. Raises only :class:`InputError`."""
    shown = str(path) if display is None else display
    data = read_bytes(path, display=shown, max_bytes=max_bytes, what=what, fix=fix)
    if data is None:
        return None
    return parse_json(decode(data, shown, what=what, fix=fix), shown, max_depth=max_depth,
                      what=what, fix=fix)


def number(value: object, file: str, where: str, *, minimum: float = -MAX_NUMBER,
           maximum: float = MAX_NUMBER, integer: bool = False, fix: str = "") -> float:
    """``value`` as a float, when it is a finite JSON number within ``[minimum, maximum]``
    (and whole, with ``integer``); else an :class:`InputError` at ``where`` of ``file``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        try:
            result = float(value)  # type: ignore[arg-type]
        except OverflowError:
            ok = False
        else:
            ok = math.isfinite(result) and minimum <= result <= maximum and (
                not integer or result.is_integer())
    if not ok:
        expected = "a whole number" if integer else "a finite number"
        raise InputError(file, f"must be {expected} from {_bound(minimum)} to {_bound(maximum)}",
                         where=where, found=kind_of(value), fix=fix)
    return result


def _bound(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def expect(value: object, kinds: type | tuple[type, ...], file: str, where: str,
           expected: str, *, fix: str = "") -> Any:
    """``value`` when it is one of ``kinds`` (a ``bool`` is never an ``int`` here)."""
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,))):
        return value
    raise InputError(file, f"must be {expected}", where=where, found=kind_of(value), fix=fix)


def one_of(value: object, choices: Sequence[object], file: str, where: str, *,
           fix: str = "") -> Any:
    """``value`` when it is one of ``choices``."""
    if value in choices:
        return value
    shown = ", ".join(repr(c) for c in choices)
    raise InputError(file, f"must be one of {shown}", where=where, found=kind_of(value),
                     fix=fix)


_Error = TypeVar("_Error", bound=InputError)
_Parsed = TypeVar("_Parsed")


def read_document(
    path: Path,
    kind: type[_Error],
    parse: Callable[[Any], _Parsed],
    empty: Callable[[], _Parsed],
    *,
    max_bytes: int,
    what: str,
    fix: str,
) -> _Parsed:
    """The JSON input file of one kind in ``path``, parsed: ``empty()`` when it does not
    exist, ``parse(data)`` otherwise. Every problem, in the bytes or in ``parse``, is
    raised as the file kind's own error ``kind`` naming the file and the place."""
    try:
        data = read_json(path, max_bytes=max_bytes, what=what, fix=fix)
        return empty() if data is None else parse(data)
    except InputError as exc:
        if isinstance(exc, kind):
            raise
        raise kind(exc.file, exc.what, where=exc.where, line=exc.line, column=exc.column,
                   found=exc.found, fix=exc.fix) from None
