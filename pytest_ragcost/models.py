"""Plain result objects: what a metered run produced, with units in the names.

Everything here is a frozen dataclass with ``to_dict``/``from_dict`` so results can
travel between pytest-xdist workers and the controller (on ``report.user_properties``)
and land in the JSON output unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: Where an energy figure came from. Never sum figures of different kinds.
EnergyKind = Literal["measured", "attributed", "estimated", "unavailable"]
ENERGY_KINDS: tuple[EnergyKind, ...] = ("measured", "attributed", "estimated", "unavailable")

#: Source labels of non-energy numbers.
#:  - ``timer``: perf_counter / process CPU clocks / getrusage
#:  - ``counted``: tokens counted locally with a tokenizer
#:  - ``provider``: usage reported by the model provider
#:  - ``given``: an integer the test passed in
#:  - ``derived``: computed from other metrics (sums, prices)
SOURCE_LABELS = ("timer", "counted", "provider", "given", "derived", *ENERGY_KINDS)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

#: The token kinds ``stage.tokens()`` names (any other keyword is a custom kind).
TOKEN_KINDS: tuple[str, ...] = ("prompt", "context", "completion", "rerank_in")
#: Their metrics, and the total, in the order reports show them.
TOKEN_METRICS: tuple[str, ...] = (*(f"tokens_{k}" for k in TOKEN_KINDS), "tokens_total")

#: Metrics whose values are exact (compared exactly by the gate).
EXACT_PREFIXES = ("tokens_", "count_")
EXACT_NAMES = frozenset({"errors", "requests", "timeouts"})
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
    if metric in EXACT_NAMES or metric.startswith(EXACT_PREFIXES):
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


@dataclass(frozen=True)
class StageRecord:
    """One stage of one request. ``metrics`` maps bare metric names to values."""

    name: str
    metrics: Mapping[str, float]
    sources: Mapping[str, str]
    error: str | None = None
    #: the model whose tokens this stage recorded (for prices), if the test named one
    model: str | None = None
    #: when the stage opened, in ms after its request opened (draws a true waterfall)
    start_ms: float | None = None
    #: ``host:port`` its calls went to, when captured OpenTelemetry spans said
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "metrics": dict(self.metrics),
            "sources": dict(self.sources),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.model is not None:
            out["model"] = self.model
        if self.start_ms is not None:
            out["start_ms"] = self.start_ms
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageRecord:
        return cls(
            name=data["name"],
            metrics=dict(data["metrics"]),
            sources=dict(data["sources"]),
            error=data.get("error"),
            model=data.get("model"),
            start_ms=None if data.get("start_ms") is None else float(data["start_ms"]),
            endpoint=data.get("endpoint"),
        )


@dataclass(frozen=True)
class RequestRecord:
    """One metered request: its whole-request metrics and its stages in order."""

    trace_id: str
    index: int
    metrics: Mapping[str, float]
    sources: Mapping[str, str]
    stages: tuple[StageRecord, ...] = ()
    error: str | None = None
    #: which item this request was about (``ragcost.requests(items, id=...)`` or a content
    #: hash of the item); per-item baselines pair requests on it
    item_id: str | None = None
    #: a short readable name of the item, for messages
    item_label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "index": self.index,
            "metrics": dict(self.metrics),
            "sources": dict(self.sources),
            "stages": [s.to_dict() for s in self.stages],
        }
        if self.error is not None:
            out["error"] = self.error
        if self.item_id is not None:
            out["item_id"] = self.item_id
            out["item_label"] = self.item_label
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestRecord:
        return cls(
            trace_id=data["trace_id"],
            index=int(data["index"]),
            metrics=dict(data["metrics"]),
            sources=dict(data["sources"]),
            stages=tuple(StageRecord.from_dict(s) for s in data["stages"]),
            error=data.get("error"),
            item_id=data.get("item_id"),
            item_label=data.get("item_label"),
        )

    def flat(self) -> dict[str, float]:
        """All metric keys of this request: ``metric`` and ``stage.metric`` (stages summed)."""
        out = dict(self.metrics)
        for st in self.stages:
            for name, value in st.metrics.items():
                key = f"{st.name}.{name}"
                if name == "ttft_ms" or name == "peak_rss_mb":
                    # first token happens once; peaks do not add up
                    out.setdefault(key, value)
                    if name == "peak_rss_mb":
                        out[key] = max(out[key], value)
                else:
                    out[key] = out.get(key, 0.0) + value
        return out

    def flat_sources(self) -> dict[str, str]:
        out = dict(self.sources)
        for st in self.stages:
            for name, src in st.sources.items():
                out.setdefault(f"{st.name}.{name}", src)
        return out


@dataclass(frozen=True)
class ItemValues:
    """One metric key's value per item id, with a readable label per id."""

    values: Mapping[str, float]
    labels: Mapping[str, str]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Sample:
    """One quality sample fed by ``ragcost.sample(...)``."""

    question: str | None = None
    answer: str | None = None
    contexts: tuple[str, ...] = ()
    reference: str | None = None
    reference_contexts: tuple[str, ...] = ()
    context_ids: tuple[str, ...] = ()
    reference_ids: tuple[str, ...] = ()
    trace_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "contexts": list(self.contexts),
            "reference": self.reference,
            "reference_contexts": list(self.reference_contexts),
            "context_ids": list(self.context_ids),
            "reference_ids": list(self.reference_ids),
            "trace_id": self.trace_id,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        return cls(
            question=data.get("question"),
            answer=data.get("answer"),
            contexts=tuple(data.get("contexts", ())),
            reference=data.get("reference"),
            reference_contexts=tuple(data.get("reference_contexts", ())),
            context_ids=tuple(str(x) for x in data.get("context_ids", ())),
            reference_ids=tuple(str(x) for x in data.get("reference_ids", ())),
            trace_id=data.get("trace_id"),
            extra=dict(data.get("extra", {})),
        )


@dataclass(frozen=True)
class ScenarioRun:
    """Everything one test measured for one scenario."""

    scenario: str
    nodeid: str
    requests: tuple[RequestRecord, ...]
    warmup: int = 0
    samples: tuple[Sample, ...] = ()
    #: the meters that measured the run (``MeterSet.describe()``)
    meters: Mapping[str, Any] = field(default_factory=dict)
    #: model -> why its tokens were counted with an assumed encoding
    token_notes: Mapping[str, str] = field(default_factory=dict)
    #: a load level's own figures (``ragcost.load()``): throughput, queues, the level
    load: Mapping[str, Any] = field(default_factory=dict)
    #: the configuration this run measured: a parametrized test's parameters
    #: (``{"top_k": 8}``), JSON scalars only
    knobs: Mapping[str, Any] = field(default_factory=dict)
    #: the sweep this run belongs to: the node id of its test without the parameter
    #: part, shared by every configuration of one parametrized test; ``None`` otherwise
    sweep: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "nodeid": self.nodeid,
            "warmup": self.warmup,
            "meters": dict(self.meters),
            "token_notes": dict(self.token_notes),
            "knobs": dict(self.knobs),
            "sweep": self.sweep,
            "requests": [r.to_dict() for r in self.requests],
            "samples": [s.to_dict() for s in self.samples],
        }
        if self.load:
            out["load"] = dict(self.load)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioRun:
        return cls(
            scenario=data["scenario"],
            nodeid=data["nodeid"],
            warmup=int(data.get("warmup", 0)),
            meters=dict(data.get("meters", {})),
            token_notes={str(k): str(v) for k, v in dict(data.get("token_notes", {})).items()},
            knobs=dict(data.get("knobs") or {}),
            sweep=data.get("sweep"),
            requests=tuple(RequestRecord.from_dict(r) for r in data["requests"]),
            samples=tuple(Sample.from_dict(s) for s in data.get("samples", ())),
            load=dict(data.get("load", {})),
        )

    def series(self) -> dict[str, list[float]]:
        """Per metric key, the values over requests (a request lacking a key is skipped)."""
        out: dict[str, list[float]] = {}
        for req in self.requests:
            for key, value in req.flat().items():
                out.setdefault(key, []).append(value)
        return out

    def sources(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for req in self.requests:
            for key, src in req.flat_sources().items():
                out.setdefault(key, src)
        return out

    def stage_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for req in self.requests:
            for st in req.stages:
                seen.setdefault(st.name, None)
        return list(seen)


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


@dataclass(frozen=True)
class Verdict:
    """The gate's finding for one (scenario, metric key).

    ``interval`` is the confidence interval of the change (current - baseline) in the
    metric's unit when the rule used one; ``n`` is the current sample count.
    ``improved`` marks a fall larger than the tolerance (a hint to re-bless).
    """

    scenario: str
    key: str
    status: Status
    message: str
    baseline: float | None = None
    current: float | None = None
    budget: float | None = None
    tolerance: str | None = None
    stat: str = "mean"
    n: int | None = None
    interval: tuple[float, float] | None = None
    source: str | None = None
    severity: Literal["fail", "warn"] = "fail"
    improved: bool = False

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def change_pct(self) -> float | None:
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return (self.current - self.baseline) / abs(self.baseline) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "key": self.key,
            "status": self.status,
            "message": self.message,
            "baseline": self.baseline,
            "current": self.current,
            "budget": self.budget,
            "tolerance": self.tolerance,
            "stat": self.stat,
            "n": self.n,
            "interval": list(self.interval) if self.interval else None,
            "source": self.source,
            "severity": self.severity,
            "improved": self.improved,
            "change_pct": self.change_pct,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        interval = data.get("interval")
        return cls(
            scenario=data["scenario"],
            key=data["key"],
            status=data["status"],
            message=data["message"],
            baseline=data.get("baseline"),
            current=data.get("current"),
            budget=data.get("budget"),
            tolerance=data.get("tolerance"),
            stat=data.get("stat", "mean"),
            n=data.get("n"),
            interval=(float(interval[0]), float(interval[1])) if interval else None,
            source=data.get("source"),
            severity=data.get("severity", "fail"),
            improved=bool(data.get("improved", False)),
        )


@dataclass
class Outcome:
    """What one scenario produced in this run: the measurements and the verdicts."""

    run: ScenarioRun
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    #: quality metric -> its per-sample scores (``quality.MetricScores.to_dict()``)
    quality: dict[str, Any] = field(default_factory=dict)
    #: cost per successful answer (``success:`` in ragcost.yaml): successes, answers and
    #: each cost total divided by the successes
    per_success: dict[str, Any] = field(default_factory=dict)
    #: False when the test itself failed: its numbers are shown but never blessed
    test_passed: bool = True
    #: model -> why its tokens could not be priced (that request has no ``cost_usd``)
    price_notes: dict[str, str] = field(default_factory=dict)
    #: quality metric -> why it could not be scored
    quality_errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "error": self.error,
            "quality": self.quality,
            "per_success": self.per_success,
            "test_passed": self.test_passed,
            "price_notes": dict(self.price_notes),
            "quality_errors": dict(self.quality_errors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(
            run=ScenarioRun.from_dict(data["run"]),
            verdicts=[Verdict.from_dict(v) for v in data["verdicts"]],
            error=data.get("error"),
            quality=dict(data.get("quality", {})),
            per_success=dict(data.get("per_success", {})),
            test_passed=bool(data.get("test_passed", True)),
            price_notes={str(k): str(v) for k, v in dict(data.get("price_notes", {})).items()},
            quality_errors={
                str(k): str(v) for k, v in dict(data.get("quality_errors", {})).items()
            },
        )
