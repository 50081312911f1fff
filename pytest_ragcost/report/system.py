"""The system figures of ``--ragcost-system`` per stage, for every renderer: disk bytes and
the network calls per endpoint, summed over a scenario's requests."""

from __future__ import annotations

from dataclasses import dataclass

from ..run.model import ScenarioRun
from .fmt import count, fmt


@dataclass(frozen=True)
class EndpointUse:
    """One stage's calls to one endpoint over a scenario's requests (totals), and the
    mean round trip of those calls."""

    stage: str
    endpoint: str
    requests: int
    calls: int
    sent_bytes: int
    received_bytes: int
    errors: int
    timeouts: int
    connects: int
    rtt_ms: float | None


def endpoint_uses(run: ScenarioRun) -> list[EndpointUse]:
    """Every (stage, endpoint) a scenario's requests called, in first-call order."""
    found: dict[tuple[str, str], list[float]] = {}
    seen_in: dict[tuple[str, str], set[int]] = {}
    for index, req in enumerate(run.requests):
        for st in req.stages:
            for e in st.endpoints:
                key = (st.name, e.endpoint)
                t = found.setdefault(key, [0.0] * 8)
                t[0] += e.calls
                t[1] += e.sent_bytes
                t[2] += e.received_bytes
                t[3] += e.errors
                t[4] += e.timeouts
                t[5] += e.connects
                if e.rtt_ms is not None:
                    t[6] += e.rtt_ms * e.calls
                    t[7] += e.calls
                seen_in.setdefault(key, set()).add(index)
    return [
        EndpointUse(stage, endpoint, len(seen_in[(stage, endpoint)]), int(t[0]), int(t[1]),
                    int(t[2]), int(t[3]), int(t[4]), int(t[5]), t[6] / t[7] if t[7] else None)
        for (stage, endpoint), t in found.items()
    ]


#: what a scenario metered with the socket hook but without a call seen by it says, so an
#: empty endpoint table reads as "none seen", not as "not measured"
NO_CALLS_SEEN = (
    "no network call was seen at the socket layer: the stages' work stayed in this "
    "process, or went through sockets opened in C (gRPC, libpq), which the hook does not see"
)


#: the mean peak RSS growth from which a stage's line shows it
_SHOWN_GROWTH_BYTES = 1 << 20


def network_metered(run: ScenarioRun) -> bool:
    """Whether the socket hook of ``--ragcost-system`` metered this scenario."""
    used = run.meters.get("used")
    return isinstance(used, list) and any(
        isinstance(m, dict) and m.get("name") == "network" for m in used
    )


def size(n: float) -> str:
    """Bytes for a person: 512 B, 3.4 KiB, 5.0 MiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def system_lines(run: ScenarioRun) -> list[str]:
    """One line per stage with system figures: the disk bytes it read or wrote (when not
    0) and the endpoints it called, per request (means over the scenario's requests)."""
    n = len(run.requests)
    if not n:
        return []
    disk: dict[str, list[float]] = {}
    for req in run.requests:
        for st in req.stages:
            if "disk_write_bytes" in st.metrics or "disk_read_bytes" in st.metrics:
                d = disk.setdefault(st.name, [0.0, 0.0])
                d[0] += st.metrics.get("disk_read_bytes", 0.0)
                d[1] += st.metrics.get("disk_write_bytes", 0.0)
    growth: dict[str, float] = {}
    for req in run.requests:
        for st in req.stages:
            if "rss_peak_growth_bytes" in st.metrics:
                growth[st.name] = growth.get(st.name, 0.0) + st.metrics["rss_peak_growth_bytes"]
    calls: dict[str, list[str]] = {}
    for use in endpoint_uses(run):
        parts = [f"{size(use.sent_bytes / n)} out", f"{size(use.received_bytes / n)} in"]
        if use.rtt_ms is not None:
            parts.append(f"rtt {fmt(use.rtt_ms)} ms")
        if use.errors:
            parts.append(count(use.errors / n, "error"))
        if use.timeouts:
            parts.append(count(use.timeouts / n, "timeout"))
        head = f"{use.endpoint} {count(use.calls / n, 'call')}"
        calls.setdefault(use.stage, []).append(", ".join([head, *parts]))
    lines = []
    for stage in run.stage_names():
        pieces = []
        read, written = disk.get(stage, (0.0, 0.0))
        if read or written:  # a stage that touched no storage says nothing of it
            pieces.append(f"disk {size(read / n)} read, {size(written / n)} written")
        rise = growth.get(stage, 0.0) / n
        if rise >= _SHOWN_GROWTH_BYTES:  # the allocator's churn of every stage says nothing
            pieces.append(f"peak RSS +{size(rise)}")
        pieces.extend(calls.get(stage, []))
        if pieces:
            lines.append(f"  {stage}: " + "; ".join(pieces))
    if network_metered(run) and not calls:
        lines.append(f"  network: {NO_CALLS_SEEN}")
    if not lines:
        return []
    return ["", "system per request (mean): disk bytes, peak RSS growth, calls per endpoint",
            *lines]
