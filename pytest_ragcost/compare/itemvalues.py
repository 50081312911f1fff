"""A metric key's value per item, from a run's requests: what per-item baselines and the
same-job A/B pair on (:mod:`pytest_ragcost.record.item_id` gives each request its id)."""

from __future__ import annotations

from collections.abc import Iterable

from ..run import ItemValues, RequestRecord

__all__ = ["has_items", "item_values"]


def item_values(requests: Iterable[RequestRecord], key: str) -> ItemValues:
    """``key``'s value per item of these requests (requests without an item id are left out)."""
    values: dict[str, float] = {}
    labels: dict[str, str] = {}
    for req in requests:
        if req.item_id is None:
            continue
        flat = req.flat()
        if key in flat:
            values[req.item_id] = flat[key]
            labels[req.item_id] = req.item_label or req.item_id
    return ItemValues(values, labels)


def has_items(requests: Iterable[RequestRecord]) -> bool:
    """Whether any of these requests carries an item id."""
    return any(r.item_id is not None for r in requests)
