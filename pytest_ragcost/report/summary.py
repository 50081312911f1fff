"""Per-metric summaries of a scenario run, shared by every renderer."""

from __future__ import annotations

from typing import Any

from ..compare.describe import describe
from ..run import TOKEN_METRICS, ScenarioRun, metric_class, split_key, unit_of

#: the order request-level metrics are shown in
ORDER = (
    "wall_ms",
    "ttft_ms",
    "cpu_ms",
    "gpu_ms",
    "peak_rss_mb",
    "disk_read_bytes",
    "disk_write_bytes",
    "rss_peak_growth_bytes",
    "net_calls",
    "net_sent_bytes",
    "net_received_bytes",
    "net_rtt_ms",
    "net_errors",
    "net_timeouts",
    "energy_j",
    "energy_cpu_j",
    "energy_dram_j",
    "energy_gpu_j",
    *TOKEN_METRICS,
    "cost_usd",
    "errors",
)


def sort_key(key: str) -> tuple[int, str]:
    _, metric = split_key(key)
    try:
        return ORDER.index(metric), key
    except ValueError:
        return len(ORDER), key


def summarize_run(run: ScenarioRun) -> dict[str, dict[str, Any]]:
    """Per metric key (``metric`` and ``stage.metric``): p50, p95, mean, std, min, max, n,
    total, unit and the source label."""
    sources = run.sources()
    out: dict[str, dict[str, Any]] = {}
    for key, values in sorted(run.series().items(), key=lambda kv: sort_key(kv[0])):
        _, metric = split_key(key)
        row: dict[str, Any] = dict(describe(values))
        row["n"] = int(row["n"])  # a count, whatever type describe() keeps it in
        row["total"] = float(sum(values))
        row["unit"] = unit_of(metric)
        row["kind"] = metric_class(metric)
        row["source"] = sources.get(key, "")
        out[key] = row
    return out
