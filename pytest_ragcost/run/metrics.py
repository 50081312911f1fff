"""The vocabulary every part of pytest-ragcost speaks: metric names and their classes and
units, statistics, verdict statuses, tolerances.

A metric key is ``metric`` for a whole request or ``stage.metric`` for one stage; the
classes say how the gate compares a metric (exactly, on evidence, paired per sample).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: Where an energy figure came from. Never sum figures of different kinds.
EnergyKind = Literal["measured", "attributed", "estimated", "unavailable"]
ENERGY_KINDS: tuple[EnergyKind, ...] = ("measured", "attributed", "estimated", "unavailable")

#: Source labels of non-energy numbers.
#:  - ``timer``: perf_counter / process CPU clocks / getrusage
#:  - ``counted``: tokens counted locally with a tokenizer
#:  - ``provider``: usage reported by the model provider
#:  - ``given``: an integer the test passed in
#:  - ``derived``: computed from other metrics (sums, prices)
#:  - ``kernel``: the operating system's own per-process counters (``/proc/self/io``,
#:    ``/proc/self/status``)
#:  - ``socket``: counted by the socket-layer hook of ``--ragcost-system``
SOURCE_LABELS = (
    "timer", "counted", "provider", "given", "derived", "kernel", "socket", *ENERGY_KINDS
)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

#: The token kinds ``stage.tokens()`` names (any other keyword is a custom kind).
TOKEN_KINDS: tuple[str, ...] = ("prompt", "context", "completion", "rerank_in")
#: Their metrics, and the total, in the order reports show them.
TOKEN_METRICS: tuple[str, ...] = (*(f"tokens_{k}" for k in TOKEN_KINDS), "tokens_total")

#: Metrics whose values are exact (compared exactly by the gate).
EXACT_PREFIXES = ("tokens_", "count_")
EXACT_NAMES = frozenset({"errors", "requests", "timeouts"})
#: counts of network calls a stage made (``--ragcost-system``): compared exactly, as
#: ``errors`` is; their bytes and round trips are noisy
NET_COUNT_NAMES = frozenset({"net_calls", "net_errors", "net_timeouts"})
#: Metrics that vary run to run (gated on evidence).
NOISY_NAMES = frozenset(
    {
        "wall_ms",
        "cpu_ms",
        "gpu_ms",
        "ttft_ms",
        "energy_j",
        "energy_cpu_j",
        "energy_gpu_j",
        "energy_dram_j",
        "peak_rss_mb",
        # --ragcost-system: what the process made the storage layer read and write
        "disk_read_bytes",
        "disk_write_bytes",
        # --ragcost-system: how far the resident set rose above where the window began
        "rss_peak_growth_bytes",
        # --ragcost-system: the stage's network calls, at the socket layer
        "net_sent_bytes",
        "net_received_bytes",
        "net_rtt_ms",
        # under load (ragcost.load): wait before start, the queue found, busy workers,
        # and the level's throughput (higher is better: its budget is a floor)
        "wait_ms",
        "queue_depth",
        "active_workers",
        "throughput_rps",
    }
)
#: metrics where more is better: a budget is a floor and a fall is the regression
HIGHER_IS_BETTER = frozenset({"throughput_rps"})
DERIVED_NAMES = frozenset({"cost_usd"})
QUALITY_NAMES = frozenset({"hit_at_k", "mrr", "context_precision", "context_recall"})
QUALITY_PREFIXES = ("ragas_",)

UNITS: Mapping[str, str] = {
    "wall_ms": "ms",
    "cpu_ms": "ms",
    "gpu_ms": "ms",
    "ttft_ms": "ms",
    "energy_j": "J",
    "energy_cpu_j": "J",
    "energy_gpu_j": "J",
    "energy_dram_j": "J",
    "peak_rss_mb": "MiB",
    "disk_read_bytes": "bytes",
    "disk_write_bytes": "bytes",
    "rss_peak_growth_bytes": "bytes",
    "net_sent_bytes": "bytes",
    "net_received_bytes": "bytes",
    "net_rtt_ms": "ms",
    "net_calls": "count",
    "net_errors": "count",
    "net_timeouts": "count",
    "wait_ms": "ms",
    "queue_depth": "requests",
    "active_workers": "workers",
    "throughput_rps": "req/s",
    "timeouts": "count",
    "errors": "count",
    "ctx_switches": "count",
    "page_faults": "count",
    "cost_usd": "USD",
}

MetricClass = Literal["exact", "noisy", "derived", "quality", "unknown"]


def metric_class(metric: str) -> MetricClass:
    """Classify a bare metric name (without its ``stage.`` prefix)."""
    if metric in NOISY_NAMES:
        return "noisy"
    if metric in EXACT_NAMES or metric in NET_COUNT_NAMES or metric.startswith(EXACT_PREFIXES):
        return "exact"
    if metric in DERIVED_NAMES:
        return "derived"
    if metric in QUALITY_NAMES or metric.startswith(QUALITY_PREFIXES):
        return "quality"
    return "unknown"


def unit_of(metric: str) -> str:
    """The unit of a bare metric name."""
    if metric in UNITS:
        return UNITS[metric]
    if metric.startswith("tokens_"):
        return "tokens"
    if metric.startswith("count_"):
        return "count"
    if metric_class(metric) == "quality":
        return "score"
    return ""


def value_range(metric: str) -> tuple[float, float]:
    """The values a bare metric name can take: a quality score lies in [0, 1]; every cost,
    count, time and rate the plugin knows is at least 0; a name it does not know is any
    number."""
    if metric_class(metric) == "quality":
        return 0.0, 1.0
    if metric_class(metric) != "unknown" or metric in UNITS or unit_of(metric):
        return 0.0, math.inf
    return -math.inf, math.inf


def split_key(key: str) -> tuple[str | None, str]:
    """Split ``"stage.metric"`` into ``("stage", "metric")``; ``"metric"`` gives ``(None, ...)``.

    Raises ``ValueError`` for anything else (two dots, empty parts).
    """
    parts = key.split(".")
    if len(parts) == 1 and parts[0]:
        return None, parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    msg = f"metric key {key!r} must be 'metric' or 'stage.metric'"
    raise ValueError(msg)


#: ``--ragcost-update`` (``all``) or ``--ragcost-update=improvements``
UpdateMode = Literal["all", "improvements"]
UPDATE_MODES: tuple[UpdateMode, ...] = ("all", "improvements")
#: how the LLM judge is asked: replayed from its record, recorded, or live
JudgeMode = Literal["replay", "record", "live"]
JUDGE_MODES: tuple[JudgeMode, ...] = ("replay", "record", "live")

Stat = Literal["mean", "median", "p95", "p99", "max", "total"]
STATS: tuple[Stat, ...] = ("mean", "median", "p95", "p99", "max", "total")

Status = Literal["PASS", "FAIL", "WARN", "INCONCLUSIVE", "INCOMPARABLE", "NEW", "STALE"]
#: Every status, worst first: the one ranking reports and the gate order verdicts by.
STATUSES: tuple[Status, ...] = (
    "FAIL",
    "WARN",
    "INCONCLUSIVE",
    "INCOMPARABLE",
    "STALE",
    "NEW",
    "PASS",
)


@dataclass(frozen=True)
class Tolerance:
    """How far a value may move: ``relative`` means a fraction of the baseline (0.05 = 5%)."""

    value: float
    relative: bool

    def absolute(self, baseline: float) -> float:
        """The allowed change in the metric's unit for this baseline."""
        return abs(baseline) * self.value if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"
