"""The estimate meter: CPU energy from CPU time, for machines with no energy counter.

``energy_cpu_j = cpu_seconds x watts_per_thread``. The model charges one busy hardware
thread's share of the package power for each second of CPU time; idle power and other
processes are not counted. Its figures are always labelled ``estimated`` and are never
added to a measured figure. The default watts per thread is a documented constant
(:data:`pytest_ragcost.config.DEFAULT_WATTS_PER_THREAD`); set ``ragcost_watts_per_thread``
to ``TDP / threads per package`` of your CPU for a closer figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EstimateModel:
    watts_per_thread: float
    source: str  # where the figure came from: "default" or the flag / ini key

    name = "estimate"
    kind = "estimated"

    @property
    def joules_per_cpu_ms(self) -> float:
        return self.watts_per_thread / 1000.0

    def energy_cpu_j(self, cpu_ms: float) -> float:
        return cpu_ms * self.joules_per_cpu_ms

    def describe(self) -> dict[str, Any]:
        return {
            "model": "cpu_seconds x watts_per_thread",
            "watts_per_thread": self.watts_per_thread,
            "watts_per_thread_source": self.source,
        }
