"""The loaded ragcost.yaml of a run, with the environment it is compared in.

:func:`load_gate` reads the file (or, on an xdist worker, the text the controller sent);
:func:`pytest_ragcost.compare.evaluate.evaluate` compares runs with it and
:func:`pytest_ragcost.compare.bless.bless` writes new baselines into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import budget as budget_mod

if TYPE_CHECKING:
    from ..budget import Budget
    from ..budget.items import ItemStore
    from ..config import Settings

class GateError(ValueError):
    """ragcost.yaml cannot be used; ``str()`` is the message for the user."""


@dataclass
class Gate:
    """ragcost.yaml as this run reads it: its path and text (shipped to xdist workers), the
    checked :class:`~pytest_ragcost.budget.Budget`, and this machine's environment."""

    path: Path
    text: str
    exists: bool
    budget: Budget
    environment: Mapping[str, Any]
    #: the per-item baselines beside the file (``ragcost.items.json``), if any
    items: ItemStore | None = None

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the file's text as this run read it (None: there was no file)."""
        if not self.exists:
            return None
        import hashlib

        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    # -- the header --------------------------------------------------------------------
    def header(self) -> str:
        if not self.exists:
            return (
                f"config: {self.path} (not found: every scenario is NEW; "
                "--ragcost-update writes it)"
            )
        n = len(self.budget.scenarios)
        match = "" if self.environment_matches() else ", baselines from another machine or meter"
        return f"config: {self.path} ({n} scenario{'s' if n != 1 else ''}{match})"

    def environment_matches(self) -> bool:
        recorded = dict(self.budget.environment or {})
        if not recorded.get("id"):
            return True  # hand-written baselines: nothing recorded to compare with
        return str(recorded.get("id")) == str(self.environment.get("id"))


def load_gate(
    settings: Settings,
    environment: Mapping[str, Any],
    *,
    text: str | None = None,
    from_worker: Any = None,
) -> Gate | None:
    """Load ragcost.yaml (or, on an xdist worker, the text the controller sent).

    Raises :class:`GateError` with the file's problems, one per line.
    """
    path = settings.config_path
    if path is None:
        return None
    if from_worker is not None and text is None:
        # the controller found no file: every scenario is NEW
        return Gate(path, "", False, budget_mod.loads("", path), environment)
    try:
        if text is not None:
            loaded = budget_mod.loads(text, path)
            exists = True
        else:
            # a bless may create the file, also at the target of a dangling symlink
            loaded = budget_mod.load(path, creating=settings.update is not None)
            exists = loaded.exists
            text = path.read_text(encoding="utf-8") if exists else ""
    except budget_mod.BudgetError as exc:
        raise GateError(str(exc)) from None
    except OSError as exc:
        raise GateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    from ..budget.items import ItemStoreError, items_path, load_items

    try:
        items = load_items(items_path(path))
    except ItemStoreError as exc:
        raise GateError(str(exc)) from None
    return Gate(path, text, exists, loaded, environment, items)


__all__ = ["Gate", "GateError", "load_gate"]
