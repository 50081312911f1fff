"""The per-item baselines, ``ragcost.items.json`` beside ragcost.yaml.

ragcost.yaml holds one reviewed number per metric: the statistic over the requests the
bless ran. That number only compares with a run over the same requests. This file keeps
what it was computed from, each item's own value, so a run over any subset of those items
(a pull request's quick run, one ``-k`` selection) is compared on exactly those items.
Layout::

    {
      "version": 1,
      "scenarios": {
        "qa-typical": {
          "items": {
            "3f1c9a0b2d4e5f60": {
              "label": "Which indexes does Milvus support?",
              "metrics": {"tokens_context": 261, "generate.wall_ms": 412.3}
            }
          }
        }
      }
    }

Item ids are those of :mod:`pytest_ragcost.record.item_id`. ``--ragcost-update`` writes it next
to ragcost.yaml, for the keys whose baselines it wrote; keys sorted, one value per line,
so a review diff shows the items that moved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inputs import InputError, at, number, read_bytes, read_document
from ..run import ItemValues

ITEMS_VERSION = 1


class ItemStoreError(InputError):
    """The per-item baseline file is broken; the message says where and how to fix it."""


#: the largest per-item file read (a million items of twenty metrics is about 500 MB;
#: the bless writes about 30 bytes per value)
MAX_ITEMS_BYTES = 256 << 20
_WHAT = "per-item baseline file"
_FIX = "fix the entry by hand or delete the file and re-run with --ragcost-update"
_FIX_JSON = (
    "the per-item baseline file must be the JSON pytest-ragcost writes. Resolve the merge "
    "conflict, or delete the file and re-run with --ragcost-update."
)


def items_path(config_path: Path) -> Path:
    """``ragcost.items.json`` beside ``ragcost.yaml`` (``<stem>.items.json``)."""
    return config_path.with_name(f"{config_path.stem}.items.json")


@dataclass(frozen=True)
class ScenarioItems:
    """One scenario's items: id -> label, and id -> metric key -> value."""

    labels: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def values(self, key: str) -> ItemValues:
        """``key``'s baseline value per item (items without it are left out)."""
        values = {i: m[key] for i, m in self.metrics.items() if key in m}
        return ItemValues(values, {i: self.labels.get(i, i) for i in values})

    def with_key(self, key: str, values: ItemValues) -> ScenarioItems:
        """A copy where ``key`` holds exactly ``values`` (other keys untouched)."""
        metrics = {i: {k: v for k, v in m.items() if k != key} for i, m in self.metrics.items()}
        labels = dict(self.labels)
        for item, value in values.values.items():
            metrics.setdefault(item, {})[key] = value
            labels[item] = values.labels.get(item, item)
        metrics = {i: m for i, m in metrics.items() if m}
        return ScenarioItems({i: labels[i] for i in metrics}, metrics)


@dataclass(frozen=True)
class ItemStore:
    scenarios: Mapping[str, ScenarioItems] = field(default_factory=dict)

    def get(self, scenario: str) -> ScenarioItems | None:
        return self.scenarios.get(scenario)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": ITEMS_VERSION,
            "scenarios": {
                sc: {
                    "items": {
                        i: {"label": items.labels.get(i, i), "metrics": dict(m)}
                        for i, m in items.metrics.items()
                    }
                }
                for sc, items in self.scenarios.items()
            },
        }


def _short(found: object) -> str:
    text = repr(found)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(path: Path, where: str, expected: str, found: object) -> ItemStoreError:
    return ItemStoreError(str(path), f"must be {expected}", where=where, found=_short(found),
                          fix=_FIX)


def _parse(path: Path, data: object) -> ItemStore:
    if not isinstance(data, dict):
        raise _fail(path, "the top level", "a JSON object", type(data).__name__)
    if data.get("version") != ITEMS_VERSION:
        raise _fail(path, "'version'", str(ITEMS_VERSION), data.get("version"))
    raw = data.get("scenarios", {})
    if not isinstance(raw, dict):
        raise _fail(path, "'scenarios'", "an object", type(raw).__name__)
    scenarios: dict[str, ScenarioItems] = {}
    for sc, body in raw.items():
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, dict):
            raise _fail(path, at("scenarios", sc, "items"), "an object", items)
        labels: dict[str, str] = {}
        metrics: dict[str, dict[str, float]] = {}
        for item, rec in items.items():
            where = at("scenarios", sc, "items", item)
            if not isinstance(rec, dict) or not isinstance(rec.get("metrics"), dict):
                raise _fail(path, where, '{"label": "...", "metrics": {...}}', rec)
            label = rec.get("label", item)
            if not isinstance(label, str):
                raise _fail(path, f"{where}.label", "a string", label)
            labels[item] = label
            values: dict[str, float] = {}
            for key, value in rec["metrics"].items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _fail(path, at(where, "metrics", key), "a finite number", value)
                # an item's cost is never negative nor beyond what ragcost.yaml can hold
                values[key] = number(value, str(path), at(where, "metrics", key), minimum=0,
                                     fix=_FIX)
            metrics[item] = values
        scenarios[sc] = ScenarioItems(labels, metrics)
    return ItemStore(scenarios)


def load_items(path: str | os.PathLike[str]) -> ItemStore:
    """Read the file; a missing one is an empty store (no per-item baselines yet).

    Raises :class:`ItemStoreError` for anything else that is not the file the bless
    writes, naming the file and the place (see :mod:`pytest_ragcost.inputs`)."""
    p = Path(path)
    return read_document(p, ItemStoreError, lambda data: _parse(p, data), ItemStore,
                         max_bytes=MAX_ITEMS_BYTES, what=_WHAT, fix=_FIX_JSON)


def with_keys(
    store: ItemStore, scenario: str, keyed: Iterable[tuple[str, ItemValues]]
) -> ItemStore:
    """A copy of ``store`` where each given key of ``scenario`` holds exactly its values."""
    items = store.get(scenario) or ScenarioItems()
    for key, values in keyed:
        items = items.with_key(key, values)
    scenarios = dict(store.scenarios)
    if items.metrics:
        scenarios[scenario] = items
    else:
        scenarios.pop(scenario, None)
    return ItemStore(scenarios)


def dumps(store: ItemStore) -> str:
    """The file's text: sorted keys, one value per line, a final newline."""
    return json.dumps(store.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def save_items(path: str | os.PathLike[str], store: ItemStore) -> None:
    """Write the store atomically, keeping an existing file's mode (no merge: see
    :func:`merge_items` for a bless)."""
    from ..files import write_text_atomic

    write_text_atomic(path, dumps(store))


def merge_items(
    path: str | os.PathLike[str],
    keyed: Mapping[str, Iterable[tuple[str, ItemValues]]],
) -> ItemStore:
    """Bless per-item values into the file: under the lock, re-read what is on disk (a bless
    running beside this one may have written other scenarios since this run started),
    replace exactly the given keys of the given scenarios, and write it back atomically.
    Returns the store as written."""
    from ..files import locked, write_text_atomic

    with locked(path):
        store = load_items(path)
        for scenario, pairs in keyed.items():
            store = with_keys(store, scenario, pairs)
        text = dumps(store)
        try:
            old = read_bytes(path, max_bytes=MAX_ITEMS_BYTES, what=_WHAT)
        except InputError:
            old = None
        if old is None or old != text.encode("utf-8"):
            write_text_atomic(path, text)
    return store
