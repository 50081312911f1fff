"""The gate of ``throughput_rps``: higher is better, so a fall is the regression and a
budget is a floor. Every other load metric (``wall_ms``, ``wait_ms``, ``queue_depth``,
``errors``, ``timeouts`` ...) is a per-request cost and goes through the ordinary rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..compare import stats
from ..models import Status, Tolerance, Verdict
from .runner import throughput_se

DEFAULT_CONFIDENCE = 0.90


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def judge_throughput(
    *,
    scenario: str,
    key: str,
    figures: Mapping[str, Any],
    baseline: float | None,
    baseline_se: float | None,
    baseline_n: int | None,
    tolerance: Tolerance,
    budget: float | None,
    severity: str,
    environment_matches: bool,
) -> Verdict:
    """One verdict for a load level's throughput against its baseline and floor."""
    common: dict[str, Any] = {
        "scenario": scenario, "key": key, "baseline": baseline, "budget": budget,
        "tolerance": str(tolerance), "stat": "mean",
        "severity": "warn" if severity == "warn" else "fail",
    }
    if "throughput_rps" not in figures:
        return Verdict(
            status="STALE",
            message=(
                f"{scenario} {key}: in ragcost.yaml but this scenario ran no load level; "
                "throughput_rps is measured by ragcost.load()"
            ),
            **common,
        )
    current = float(figures["throughput_rps"])
    n = int(figures.get("requests", 0)) - int(figures.get("errors", 0))
    se = throughput_se(figures)
    common.update(current=current, n=n, source="timer")
    t = stats.t_quantile(0.5 + DEFAULT_CONFIDENCE / 2.0, max(n - 1, 1))
    head = f"{key}: {_fmt(current)} req/s"
    if baseline is None and budget is None:
        return Verdict(
            status="NEW",
            message=f"{head} (n={n}), no baseline yet; run `pytest --ragcost --ragcost-update`",
            **common,
        )
    findings: list[tuple[Status, str, bool]] = []
    if baseline is not None:
        drop = baseline - current
        head += f" vs baseline {_fmt(baseline)} ({-drop:+.3g}, {-drop / baseline * 100:+.1f}%)"
        allowed = tolerance.absolute(baseline)
        if not environment_matches:
            findings.append((
                "INCOMPARABLE",
                "not comparable: measured on another machine or meter than the baseline",
                False,
            ))
        elif drop <= allowed:
            findings.append(("PASS", f"within tolerance {tolerance}", current > baseline + allowed))
        else:
            spread = math.hypot(se or 0.0, baseline_se or 0.0)
            low = drop - t * spread
            level = f"{DEFAULT_CONFIDENCE * 100:g}%"
            if se is not None and low > allowed:
                findings.append((
                    "FAIL",
                    f"fell by more than tolerance {tolerance}, {level} CI of the fall from "
                    f"{_fmt(low)} req/s",
                    False,
                ))
            else:
                findings.append((
                    "INCONCLUSIVE",
                    f"fell by more than tolerance {tolerance} but within the noise; "
                    "more requests narrow the interval",
                    False,
                ))
    if budget is not None:
        if current >= budget:
            findings.append(("PASS", f"at or above the floor {_fmt(budget)} req/s", False))
        elif se is not None and current + t * se < budget:
            findings.append(("FAIL", f"below the floor {_fmt(budget)} req/s", False))
        else:
            findings.append((
                "INCONCLUSIVE", f"below the floor {_fmt(budget)} req/s but within the noise",
                False,
            ))
    status: Status = min((f[0] for f in findings), key=stats.rank)
    if status == "FAIL" and severity == "warn":
        status = "WARN"
    improved = any(f[2] for f in findings)
    counts = f"(n={n}, baseline n={baseline_n})" if baseline_n else f"(n={n})"
    message = f"{head} {'; '.join(f[1] for f in findings)} {counts}"
    if improved:
        message += ": run with --ragcost-update to raise the baseline"
    if status == "WARN":
        message += " [severity: warn]"
    return Verdict(status=status, message=message, improved=improved, **common)
