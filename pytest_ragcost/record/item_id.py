"""Which item a request was about: a stable id and a readable label.

A per-item baseline pairs this run's request for an item with the baseline's request for
the same item, so the id must not change between processes, machines or Python versions.

- With ``ragcost.requests(items, id=fn)`` the id is ``str(fn(item))``.
- Otherwise it is a content hash: the first 16 hex digits of SHA-256 over a canonical JSON
  form of the item. What is hashed, by type:

  - ``str``, ``int``, ``float``, ``bool``, ``None``: the value itself;
  - ``bytes``/``bytearray``: their hex digits;
  - ``dict``/mappings: keys as strings, sorted, values canonical in turn;
  - ``list``/``tuple``/``set``/``frozenset``: items in order (sets sorted);
  - dataclass instances: their class name and fields (``dataclasses.fields``);
  - named tuples: their class name and fields;
  - pydantic-style models (a ``model_dump()`` method): their class name and dump;
  - anything else: its ``repr()``, unless that repr holds a memory address (the default
    ``<Foo object at 0x...>``), which changes every run: then ``id=`` is required and the
    error says so.

A repeated item (the same content twice in one scenario) gets ``#2``, ``#3``... appended
in order, so repeats pair with repeats.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: fields whose text makes a good label, in order of preference
_LABEL_FIELDS = ("question", "query", "text", "prompt", "title", "name", "id")
LABEL_CHARS = 60


class ItemIdError(ValueError):
    """An item has no stable identity; the message says how to give it one."""


def canonical(item: Any, _depth: int = 0) -> Any:
    """A JSON-able form of ``item`` that is the same in every process (see the module doc)."""
    if _depth > 50:
        msg = "the item is nested more than 50 levels deep; pass id= to ragcost.requests"
        raise ItemIdError(msg)
    d = _depth + 1
    if item is None or isinstance(item, bool | int | str):
        return item
    if isinstance(item, float):
        return item if item == item and item not in (float("inf"), float("-inf")) else repr(item)
    if isinstance(item, bytes | bytearray):
        return {"bytes": bytes(item).hex()}
    if isinstance(item, Mapping):
        return {"map": sorted([str(k), canonical(v, d)] for k, v in item.items())}
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        fields = {f.name: canonical(getattr(item, f.name), d) for f in dataclasses.fields(item)}
        return {"dataclass": type(item).__qualname__, "fields": fields}
    if isinstance(item, tuple) and hasattr(item, "_fields"):
        fields = {name: canonical(getattr(item, name), d) for name in item._fields}
        return {"namedtuple": type(item).__qualname__, "fields": fields}
    if isinstance(item, list | tuple):
        return [canonical(v, d) for v in item]
    if isinstance(item, set | frozenset):
        return {"set": sorted(json.dumps(canonical(v, d), sort_keys=True) for v in item)}
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        return {"model": type(item).__qualname__, "fields": canonical(dump(), d)}
    text = repr(item)
    if _ADDRESS.search(text):
        msg = (
            f"cannot give a stable id to a {type(item).__name__} item: its repr {text!r} "
            "holds a memory address, which changes every run. Pass an id function, e.g. "
            "ragcost.requests(items, id=lambda item: item.name)"
        )
        raise ItemIdError(msg)
    return {"repr": text}


# one encoder for every item (json.dumps with options builds a new one per call)
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_id(item: Any) -> str:
    """16 hex digits of SHA-256 over the item's canonical JSON."""
    text = _CANONICAL_JSON.encode(canonical(item))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def label_of(item: Any) -> str:
    """A short readable name of the item for failure messages: a string item itself, else
    its ``question``/``query``/``text``/... field, else a shortened repr."""
    if isinstance(item, str):
        return _short(item)
    if not (item is None or type(item) in (int, float, bool)):  # plain numbers: no fields
        for name in _LABEL_FIELDS:
            value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
            if isinstance(value, str) and value.strip():
                return _short(value)
    try:
        return _short(repr(item))
    except Exception:  # a broken __repr__ must not break the run
        return type(item).__name__


class ItemIds:
    """Gives each request of one scenario its id, numbering repeats ``#2``, ``#3``..."""

    def __init__(self, id_fn: Callable[[Any], object] | None = None) -> None:
        self._fn = id_fn
        self._seen: dict[str, int] = {}

    def next(self, item: Any) -> tuple[str, str]:
        """``(item_id, label)`` for the next request's item."""
        if self._fn is not None:
            try:
                raw = self._fn(item)
            except Exception as exc:
                msg = (
                    f"ragcost.requests(id=...) raised {type(exc).__name__}: {exc} for item "
                    f"{label_of(item)!r}"
                )
                raise ItemIdError(msg) from exc
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                msg = (
                    f"ragcost.requests(id=...) returned {raw!r} for item {label_of(item)!r}; "
                    "it must return a non-empty id (a string or a number)"
                )
                raise ItemIdError(msg)
            base = str(raw)
            label = base
        else:
            base = content_id(item)
            label = label_of(item)
        count = self._seen.get(base, 0) + 1
        self._seen[base] = count
        if count == 1:
            return base, label
        return f"{base}#{count}", f"{label} #{count}"
