"""The run model: typed records of what a metered run produced, with units in the names.

Every record is a frozen dataclass (``Outcome`` aside, which the compare step fills in).
One codec, :mod:`pytest_ragcost.run.codec`, writes them as JSON and reads them back: for
the ``--ragcost-json`` file, the pytest-xdist transport, the ``ragcost`` command line,
both sides of an A/B and ``ragcost merge``. Nothing here reads or writes JSON itself.

``Any`` appears only where a value is arbitrary JSON: a sample's extra fields, the
environment fingerprint, the meters' self-description and a load level's diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .metrics import Stat, Status

#: A JSON value: what a user or an environment probe may put where nothing is typed.
JSON = Any

Severity = Literal["fail", "warn"]
SEVERITIES: tuple[Severity, ...] = ("fail", "warn")


@dataclass(frozen=True)
class EndpointRecord:
    """The network calls a stage made to one endpoint (``--ragcost-system``).

    ``calls``: exchanges (data sent, then the first data received back); ``rtt_ms``: their
    mean round trip, first byte out to first byte back (``None`` without a call);
    ``connects`` and ``connect_ms``: connections made and their mean time; ``errors``
    and ``timeouts``: socket calls that failed or timed out. Bytes are application bytes
    (the plain text through TLS).
    """

    endpoint: str
    calls: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0
    errors: int = 0
    timeouts: int = 0
    connects: int = 0
    rtt_ms: float | None = None
    connect_ms: float | None = None


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
    #: its network calls per endpoint, measured at the socket layer (``--ragcost-system``)
    endpoints: tuple[EndpointRecord, ...] = ()


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

    def flat(self) -> dict[str, float]:
        """All metric keys of this request: ``metric`` and ``stage.metric`` (stages summed)."""
        out = dict(self.metrics)
        waits: dict[str, float] = {}  # a repeated stage's round trips, weighted by its calls
        for st in self.stages:
            for name, value in st.metrics.items():
                key = f"{st.name}.{name}"
                if name == "net_rtt_ms":
                    calls = st.metrics.get("net_calls", 0.0)
                    waits[key] = waits.get(key, 0.0) + value * calls
                elif name in ("ttft_ms", "peak_rss_mb", "rss_peak_growth_bytes"):
                    # first token happens once; peaks do not add up
                    out.setdefault(key, value)
                    if name != "ttft_ms":
                        out[key] = max(out[key], value)
                else:
                    out[key] = out.get(key, 0.0) + value
        for key, total_ms in waits.items():
            calls = out.get(key[: -len("rtt_ms")] + "calls", 0.0)
            if calls:
                out[key] = total_ms / calls
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
    #: any other keyword the test passed: JSON values (anything else was stored as its repr)
    extra: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadLevel:
    """How a load level was driven (``ragcost.load(...)`` or the marker's ``load={...}``)."""

    users: int | None = None
    rate: float | None = None
    requests: int | None = None
    duration_s: float | None = None
    timeout_s: float | None = None
    arrival: str = "poisson"
    workers: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class LoadFigures:
    """A load level's own figures: its throughput, waits and queues (``ragcost.load()``)."""

    level: str
    mode: Literal["closed", "open"]
    spec: LoadLevel
    requests: int
    errors: int
    timeouts: int
    elapsed_s: float
    #: completed requests per second (a floor: higher is better)
    throughput_rps: float
    wait_ms_mean: float = 0.0
    queue_depth_mean: float = 0.0
    queue_depth_max: float = 0.0
    in_flight_mean: float = 0.0
    #: the open loop's intended rate
    offered_rps: float | None = None
    #: each tracked queue's own figures (``ragcost.queue(pool)``), as the gauge reports them
    queues: tuple[Mapping[str, JSON], ...] = ()
    #: the first errors raised under load, as text
    first_errors: tuple[str, ...] = ()
    #: the open loop's backlog of calls waiting for a worker, as the gauge reports it
    backlog: Mapping[str, JSON] | None = None


@dataclass(frozen=True)
class SampleScore:
    """One sample's score on one quality metric.

    ``value`` is ``None`` when quality is unknown (a failed or NaN judgement, a judge
    miss, a sample lacking an input the metric needs); ``reason`` then says why.
    ``reused`` marks a baseline score taken over because the output is unchanged.
    """

    key: str
    output: str
    label: str
    value: float | None
    reused: bool = False
    miss: bool = False
    reason: str | None = None


#: How a score was obtained, named in every result:
#:  - ``deterministic``: string, ROUGE/BLEU and retrieval metrics; always offline.
#:  - ``judged-replayed``: an LLM judge's answers read back from the committed record.
#:  - ``judged-live``: an LLM judge called now (``live`` or ``record`` mode).
Tier = Literal["deterministic", "judged-replayed", "judged-live"]
TIERS: tuple[Tier, ...] = ("deterministic", "judged-replayed", "judged-live")


@dataclass(frozen=True)
class MetricScores:
    """All samples' scores on one quality metric, with the judge's bill."""

    metric: str
    tier: Tier
    samples: tuple[SampleScore, ...]
    seconds: float = 0.0
    judge_model: str | None = None
    judge_live_calls: int = 0
    judge_replayed_calls: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0

    def scores(self) -> dict[str, float]:
        """``sample_key -> score`` for the samples with a known score."""
        return {s.key: s.value for s in self.samples if s.value is not None}

    def misses(self) -> list[SampleScore]:
        """Samples whose judge answer was not in the record."""
        return [s for s in self.samples if s.miss]

    def unknown(self) -> list[SampleScore]:
        """Samples whose quality is unknown for any other reason."""
        return [s for s in self.samples if s.value is None and not s.miss]

    def reused_count(self) -> int:
        return sum(1 for s in self.samples if s.reused)

    def mean(self) -> float | None:
        """Mean of the known scores (``None`` when there are none)."""
        vals = [s.value for s in self.samples if s.value is not None]
        return sum(vals) / len(vals) if vals else None


@dataclass(frozen=True)
class PerSuccess:
    """Costs per successful answer, where ragcost.yaml defines success
    (``success: {metric, min}``): each cost total divided by the successes (``None``
    when no answer succeeded, or the run did not record that cost)."""

    metric: str
    min: float
    successes: int
    answers: int
    tokens_total: float | None = None
    energy_j: float | None = None
    cpu_ms: float | None = None
    gpu_ms: float | None = None
    cost_usd: float | None = None

    #: the costs a success is charged, in the order reports show them
    COSTS = ("tokens_total", "energy_j", "cpu_ms", "gpu_ms", "cost_usd")

    def costs(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in self.COSTS}


@dataclass(frozen=True)
class Recheck:
    """The scenario measured a second time, because a noisy metric failed its first look
    (``--ragcost-second-look``): the requests of that measurement, or why none was taken.
    The verdicts judge it with :func:`~pytest_ragcost.compare.evaluate.evaluate`, so a
    saved run is judged again the same way."""

    requests: tuple[RequestRecord, ...] = ()
    #: wall-clock seconds the second measurement took
    seconds: float = 0.0
    #: why the scenario was not measured again (too long, the test raised); None when it was
    skipped: str | None = None


@dataclass(frozen=True)
class ScenarioRun:
    """Everything one test measured for one scenario."""

    scenario: str
    nodeid: str
    requests: tuple[RequestRecord, ...]
    warmup: int = 0
    samples: tuple[Sample, ...] = ()
    #: the meters that measured the run (``MeterSet.describe()``)
    meters: Mapping[str, JSON] = field(default_factory=dict)
    #: model -> why its tokens were counted with an assumed encoding
    token_notes: Mapping[str, str] = field(default_factory=dict)
    #: a load level's own figures (``ragcost.load()``); None when not run under load
    load: LoadFigures | None = None
    #: the configuration this run measured: a parametrized test's parameters
    #: (``{"top_k": 8}``), JSON scalars only
    knobs: Mapping[str, str | int | float | bool | None] = field(default_factory=dict)
    #: the sweep this run belongs to: the node id of its test without the parameter
    #: part, shared by every configuration of one parametrized test; ``None`` otherwise
    sweep: str | None = None
    #: the second look's measurement, when a noisy metric failed the first (None: no
    #: second look was asked for)
    recheck: Recheck | None = None

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


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class BetweenRun:
    """The between-run noise a noisy metric's interval includes.

    ``sd`` is the standard deviation of a whole run's log value around its environment's
    level (about the coefficient of variation), ``df`` the degrees of freedom of that
    estimate (``inf`` for a fixed prior), ``runs`` how many earlier runs informed it and
    ``source`` whether it is the history's estimate (``history``) or the prior (``prior``).
    """

    sd: float
    df: float
    runs: int
    source: Literal["history", "prior"]
    prior_cv: float = 0.25


@dataclass(frozen=True)
class Finding:
    """One half of a verdict: the comparison with the baseline, or the budget check.

    ``reason`` is a code from :data:`pytest_ragcost.run.reasons.REASONS`; the sentence
    that explains it is written by :mod:`pytest_ragcost.report.verdicts` from the code
    and the verdict's figures. ``interval`` is the confidence interval of the change in
    the metric's unit (or, for a budget, of the statistic itself) when the rule built one.
    """

    status: Status
    reason: str
    interval: tuple[float, float] | None = None
    improved: bool = False
    #: the end of the statistic's own interval that a noisy budget check compared with
    #: the budget (the low end for a cap, the high end for a floor)
    bound: float | None = None


@dataclass(frozen=True)
class Moved:
    """An item whose value changed between the baseline and this run."""

    label: str
    baseline: float
    current: float


@dataclass(frozen=True)
class ItemsUsed:
    """Which items a per-item comparison used: ``shared`` of the other side's ``of``
    items; ``moved`` names the largest changes (at most three), ``moved_count`` counts
    them all. ``side`` names the other side (``baseline``, or ``base`` in an A/B)."""

    shared: int
    of: int
    side: str = "baseline"
    moved: tuple[Moved, ...] = ()
    moved_count: int = 0


SecondLookResult = Literal["confirmed", "cleared", "skipped"]
SECOND_LOOK_RESULTS: tuple[SecondLookResult, ...] = ("confirmed", "cleared", "skipped")


@dataclass(frozen=True)
class LookFigures:
    """What one look at a metric found: its status, the statistic, the interval of the
    change and the requests it rests on."""

    status: Status
    current: float | None = None
    interval: tuple[float, float] | None = None
    n: int | None = None


@dataclass(frozen=True)
class SecondLook:
    """A noisy metric that failed its first look, measured again before its test failed.

    ``confirmed``: the second measurement failed too, and the verdict is the first
    look's FAIL. ``cleared``: it did not, and the verdict is the second look's. ``skipped``:
    no second measurement could be taken (``why``), and the first look's FAIL stands.
    """

    result: SecondLookResult
    first: LookFigures
    second: LookFigures | None = None
    #: wall-clock seconds of the second measurement
    seconds: float = 0.0
    why: str | None = None


#: what a verdict's evidence rests on
Basis = Literal["run", "items", "rounds", "samples", "load", "entry"]
BASES: tuple[Basis, ...] = ("run", "items", "rounds", "samples", "load", "entry")


@dataclass(frozen=True)
class Verdict:
    """The gate's finding for one (scenario, metric key): a status, the reason codes of
    its findings and the figures they rest on. Sentences are written from these in
    :mod:`pytest_ragcost.report.verdicts` (``sentence(verdict)``), nowhere else.

    ``interval`` is the confidence interval of the change (current - baseline) in the
    metric's unit when the rule used one; ``n`` is the current sample count.
    ``improved`` marks a fall larger than the tolerance (a hint to re-bless).
    """

    scenario: str
    key: str
    status: Status
    #: the deciding reason code (the worst finding's); see run/reasons.py
    reason: str
    findings: tuple[Finding, ...] = ()
    baseline: float | None = None
    current: float | None = None
    budget: float | None = None
    tolerance: str | None = None
    stat: Stat = "mean"
    n: int | None = None
    baseline_n: int | None = None
    interval: tuple[float, float] | None = None
    #: the two-sided level of ``interval`` (0.90: FAIL needs its low end over the tolerance)
    confidence: float | None = None
    source: str | None = None
    baseline_source: str | None = None
    severity: Severity = "fail"
    improved: bool = False
    basis: Basis = "run"
    #: the between-run noise the interval included (recorded so a later comparison of
    #: this run's JSON reaches the same verdict without the history store)
    noise: BetweenRun | None = None
    items: ItemsUsed | None = None
    #: A/B rounds behind the evidence
    rounds: int | None = None
    #: other named figures a reason's sentence needs (``need`` requests, ``detectable``
    #: drop, ``only_current`` samples ...)
    figures: Mapping[str, float] = field(default_factory=dict)
    #: text that comes from outside the gate and is shown as it is: a price note, the
    #: reason a score could not be computed, the samples a judge missed
    note: str | None = None
    #: a FAIL of a noisy metric measured again before the test failed (None: not looked at
    #: twice)
    second_look: SecondLook | None = None

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


@dataclass
class Outcome:
    """What one scenario produced in this run: the measurements and the verdicts."""

    run: ScenarioRun
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    #: quality metric -> its per-sample scores
    quality: dict[str, MetricScores] = field(default_factory=dict)
    #: cost per successful answer (``success:`` in ragcost.yaml)
    per_success: PerSuccess | None = None
    #: False when the test itself failed: its numbers are shown but never blessed
    test_passed: bool = True
    #: model -> why its tokens could not be priced (that request has no ``cost_usd``)
    price_notes: dict[str, str] = field(default_factory=dict)
    #: quality metric -> why it could not be scored
    quality_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """Which tests a run selected out of the suite it collected, so that the runs of a
    split suite (a CI matrix of ``-k``, ``-m`` or ``--ragcost-shard`` slices) can tell,
    once merged, whether together they ran all of it.

    ``suite_sha256`` and ``suite_size`` identify the suite: every test collected before
    ``-k``, ``-m``, ``--deselect`` or ``--ragcost-shard`` narrowed it (the SHA-256 of the
    sorted node ids, one a line). ``tests`` are the node ids the run selected (sorted);
    ``ran_all`` says every one of them ran to its end (no crash, no ``-x`` stop).
    """

    suite_sha256: str
    suite_size: int
    tests: tuple[str, ...] = ()
    ran_all: bool = False

    @property
    def covers_suite(self) -> bool:
        """Every test of the suite was selected and ran."""
        return self.ran_all and len(self.tests) == self.suite_size


@dataclass(frozen=True)
class RunSettings:
    """The settings a run was made with, as its JSON records them."""

    meters: tuple[str, ...] = ("auto",)
    requests_cap: int | None = None
    update: str | None = None
    strict: bool = False
    watts_per_thread: float = 4.0
    config: str | None = None
    config_found: bool = False
    #: the project the run belongs to in the history (``--ragcost-project``)
    project: str | None = None
    #: SHA-256 of ragcost.yaml as the run read it (None: there was no file); a bless
    #: from the saved run (``ragcost bless``) refuses a file that has changed since
    config_sha256: str | None = None


@dataclass
class Run:
    """A whole ``--ragcost`` run: the environment it ran in, whether the whole suite ran
    (``complete``: a scenario of ragcost.yaml missing from it is STALE; never true of one
    shard, true of the merge of all of them), and each scenario's outcome. The document
    ``--ragcost-json`` writes and the command line reads. ``selection`` says which tests
    it selected out of which suite (None in a run file written before 0.3).
    """

    environment: Mapping[str, JSON]
    outcomes: list[Outcome]
    complete: bool = False
    #: ISO 8601, UTC; empty when unknown
    created: str = ""
    settings: RunSettings = field(default_factory=RunSettings)
    #: the pytest-ragcost version that wrote it
    version: str = ""
    selection: Selection | None = None
    #: the run's id in the history (32 hex digits; empty in a run file written before
    #: pytest-ragcost 0.3): ``ragcost history record`` refuses a run already recorded
    id: str = ""
