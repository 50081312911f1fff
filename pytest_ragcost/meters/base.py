"""The interface every energy meter follows.

A meter is probed once per pytest run. Probing never raises: it returns either a
ready :class:`EnergyMeter` or an :class:`Unavailable` with a reason a person can act on.

Energy is computed from counter snapshots, not from power samples: ``snapshot()`` is
called at each window boundary (request and stage start/end) and ``delta()`` turns two
snapshots into joules per domain. Snapshots must be cheap (a few microseconds).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..run import EnergyKind

#: Energy domains a meter may report; each becomes the metric ``energy_<domain>_j``.
DOMAINS = ("cpu", "dram", "gpu")


@dataclass(frozen=True)
class Unavailable:
    """A meter that could not be used here, and why (shown in the header and JSON)."""

    name: str
    reason: str


@dataclass(frozen=True)
class EnergyDelta:
    """Energy of one window. ``joules`` maps a domain in :data:`DOMAINS` to J.

    ``extra`` holds other numbers of the window keyed by bare metric name
    (for example ``gpu_ms``), with units in the names.
    """

    joules: Mapping[str, float]
    extra: Mapping[str, float] = field(default_factory=dict)


class EnergyMeter(ABC):
    """A source of energy figures for one or more domains."""

    #: short name used on the command line (``--ragcost-meter=rapl``)
    name: str = ""
    #: the label of this meter's figures when the run owns the machine
    kind: EnergyKind = "measured"
    #: the domains this meter reports
    domains: tuple[str, ...] = ()

    @abstractmethod
    def snapshot(self) -> Any:
        """Read the counters now; the value is opaque to the caller."""

    @abstractmethod
    def delta(self, before: Any, after: Any) -> EnergyDelta:
        """Energy between two snapshots (handles counter wraparound)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend details for the JSON environment block (zones, devices, units)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most meters hold nothing
        """Release file descriptors, threads or library handles."""
