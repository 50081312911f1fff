"""A run's figures as Prometheus metrics: a node_exporter textfile or a Pushgateway push.

``--ragcost-prometheus=textfile:PATH`` writes the exposition atomically to PATH (for the
textfile collector of a self-hosted runner's node_exporter);
``--ragcost-prometheus=pushgateway:URL`` pushes it, replacing the group of the last run.
The grouping key is ``job="ragcost"`` plus any ``?label=value`` query parameters of the
URL (e.g. ``?branch=main``). The git sha never goes in it, because a Pushgateway keeps
every group it was ever sent: it is a label of ``ragcost_run_info`` instead.

Every family has the ``ragcost_`` prefix and a base unit (seconds, joules, dollars); the
labels are bounded by the test suite (scenario, stage, token type, metric, endpoint,
energy source), never per request. Histograms are snapshots of one run's requests, so
``histogram_quantile`` works on them directly, without ``rate()``.

Needs ``prometheus-client`` (``pip install 'pytest-ragcost[prometheus]'``); imported only
then.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import push_to_gateway
from prometheus_client.utils import floatToGoString

from ..files import write_text_atomic
from ..redact import redact_text
from ..report.system import endpoint_uses
from ..run import Outcome, RequestRecord
from .target import Target

#: GenAI semantic conventions' ``gen_ai.client.operation.duration`` buckets, with three
#: finer ones below for in-process stages
DURATION_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
    1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
#: ``gen_ai.client.token.usage`` buckets (powers of 4)
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
    16777216, 67108864,
)
#: ``gen_ai.client.operation.time_to_first_chunk`` buckets
TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0,
)
RATE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
ENERGY_BUCKETS_J = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000)
COST_BUCKETS_USD = (
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0,
)
ITEM_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

#: the families written, for the docs and the dashboard test
FAMILIES = (
    "ragcost_request_duration_seconds",
    "ragcost_stage_duration_seconds",
    "ragcost_request_cpu_seconds",
    "ragcost_stage_cpu_seconds",
    "ragcost_request_gpu_seconds",
    "ragcost_request_energy_joules",
    "ragcost_stage_energy_joules",
    "ragcost_stage_tokens",
    "ragcost_answer_cost_dollars",
    "ragcost_time_to_first_token_seconds",
    "ragcost_output_tokens_per_second",
    "ragcost_stage_items",
    "ragcost_quality_score",
    "ragcost_requests_total",
    "ragcost_errors_total",
    "ragcost_stage_disk_bytes_total",
    "ragcost_endpoint_calls_total",
    "ragcost_endpoint_bytes_total",
    "ragcost_endpoint_errors_total",
    "ragcost_endpoint_rtt_seconds",
    "ragcost_verdicts",
    "ragcost_run_info",
    "ragcost_last_run_timestamp_seconds",
)
def _histogram(
    name: str, doc: str, labels: Sequence[str], bounds: Sequence[float],
    series: Mapping[tuple[str, ...], list[float]],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for key in sorted(series):
        values = [v for v in series[key] if math.isfinite(v)]
        buckets = [
            (_le(bound), float(sum(1 for v in values if v <= bound)))
            for bound in bounds
        ]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric(list(key), buckets, sum(values))
    return family


class RunCollector:
    """A collector over a run's outcomes (no process-wide metric state is touched)."""

    def __init__(self, outcomes: Sequence[Outcome], info: Mapping[str, str],
                 timestamp_s: float | None = None) -> None:
        self.outcomes = [o for o in outcomes if o.run.requests or o.verdicts]
        self.info = dict(info)
        self.timestamp_s = time.time() if timestamp_s is None else timestamp_s

    def collect(self) -> Iterator[Metric]:
        series: dict[str, dict[tuple[str, ...], list[float]]] = {}

        def add(family: str, key: tuple[str, ...], value: float | None) -> None:
            if value is None or not math.isfinite(value):
                return
            series.setdefault(family, {}).setdefault(key, []).append(value)

        requests: dict[tuple[str, ...], float] = {}
        errors: dict[tuple[str, ...], float] = {}
        for outcome in self.outcomes:
            scenario = outcome.run.scenario
            requests[(scenario,)] = float(len(outcome.run.requests))
            for req in outcome.run.requests:
                self._request(scenario, req, add, errors)
        yield _histogram(
            "ragcost_request_duration_seconds", "Wall time of a whole request.",
            ["scenario"], DURATION_BUCKETS_S, series.get("req_wall", {}))
        yield _histogram(
            "ragcost_stage_duration_seconds",
            "Wall time of a stage within a request (all its calls in that request).",
            ["scenario", "stage"], DURATION_BUCKETS_S, series.get("stage_wall", {}))
        yield _histogram(
            "ragcost_request_cpu_seconds", "Process CPU time of a whole request.",
            ["scenario"], DURATION_BUCKETS_S, series.get("req_cpu", {}))
        yield _histogram(
            "ragcost_stage_cpu_seconds", "Process CPU time of a stage within a request.",
            ["scenario", "stage"], DURATION_BUCKETS_S, series.get("stage_cpu", {}))
        yield _histogram(
            "ragcost_request_gpu_seconds", "GPU busy time of a whole request.",
            ["scenario"], DURATION_BUCKETS_S, series.get("req_gpu", {}))
        yield _histogram(
            "ragcost_request_energy_joules",
            "Energy of a whole request; source says measured, attributed or estimated.",
            ["scenario", "source"], ENERGY_BUCKETS_J, series.get("req_energy", {}))
        yield _histogram(
            "ragcost_stage_energy_joules",
            "Energy of a stage within a request; source says measured, attributed or "
            "estimated.",
            ["scenario", "stage", "source"], ENERGY_BUCKETS_J, series.get("stage_energy", {}))
        yield _histogram(
            "ragcost_stage_tokens",
            "Tokens of a stage within a request, per token type (prompt, context, "
            "completion, rerank_in, cached_prompt or a custom kind).",
            ["scenario", "stage", "token_type"], TOKEN_BUCKETS, series.get("tokens", {}))
        yield _histogram(
            "ragcost_answer_cost_dollars",
            "Price of one answer (a request) from its tokens and the pinned price table.",
            ["scenario"], COST_BUCKETS_USD, series.get("cost", {}))
        yield _histogram(
            "ragcost_time_to_first_token_seconds",
            "Time from a streaming stage's start to its first token.",
            ["scenario", "stage"], TTFT_BUCKETS_S, series.get("ttft", {}))
        yield _histogram(
            "ragcost_output_tokens_per_second",
            "Completion tokens per second of a stage after its first token.",
            ["scenario", "stage"], RATE_BUCKETS, series.get("rate", {}))
        yield _histogram(
            "ragcost_stage_items",
            "Named counts a stage recorded per request (st.count(): candidates, chunks, "
            "top_k ...): the retrieval knobs in effect.",
            ["scenario", "stage", "item"], ITEM_BUCKETS, series.get("items", {}))

        quality = GaugeMetricFamily(
            "ragcost_quality_score", "Mean quality score of a scenario's samples.",
            labels=["scenario", "metric"])
        for outcome in self.outcomes:
            for metric, data in sorted(outcome.quality.items()):
                mean = data.mean()
                if mean is not None:
                    quality.add_metric([outcome.run.scenario, metric], mean)
        yield quality

        req_total = CounterMetricFamily(
            "ragcost_requests", "Requests a scenario recorded in this run.",
            labels=["scenario"])
        for key, value in sorted(requests.items()):
            req_total.add_metric(list(key), value)
        yield req_total
        err_total = CounterMetricFamily(
            "ragcost_errors",
            "Errors in this run by stage and the endpoint its calls went to "
            "(stage 'request' when the request failed outside any stage).",
            labels=["scenario", "stage", "endpoint"])
        for key, value in sorted(errors.items()):
            err_total.add_metric(list(key), value)
        yield err_total

        yield from self._system()

        verdicts = GaugeMetricFamily(
            "ragcost_verdicts", "Gate verdicts of a scenario by status.",
            labels=["scenario", "status"])
        for outcome in self.outcomes:
            counts: dict[str, int] = {}
            for verdict in outcome.verdicts:
                counts[verdict.status] = counts.get(verdict.status, 0) + 1
            for status, count in sorted(counts.items()):
                verdicts.add_metric([outcome.run.scenario, status], float(count))
        yield verdicts

        info = InfoMetricFamily("ragcost_run", "The run these figures came from.")
        info.add_metric([], self.info)
        yield info
        yield GaugeMetricFamily(
            "ragcost_last_run_timestamp_seconds", "When this run's figures were exported.",
            value=self.timestamp_s)

    def _system(self) -> Iterator[Metric]:
        """``--ragcost-system``'s figures, summed over each scenario's requests: disk bytes
        per stage, and calls, bytes, failures and the mean round trip per endpoint."""
        disk = CounterMetricFamily(
            "ragcost_stage_disk_bytes",
            "Bytes a stage made the storage layer read or write (--ragcost-system).",
            labels=["scenario", "stage", "direction"])
        calls = CounterMetricFamily(
            "ragcost_endpoint_calls", "Network calls a stage made to an endpoint.",
            labels=["scenario", "stage", "endpoint"])
        sent = CounterMetricFamily(
            "ragcost_endpoint_bytes",
            "Application bytes a stage sent to (out) or received from (in) an endpoint.",
            labels=["scenario", "stage", "endpoint", "direction"])
        failed = CounterMetricFamily(
            "ragcost_endpoint_errors",
            "Socket calls to an endpoint that failed (kind error) or timed out (timeout).",
            labels=["scenario", "stage", "endpoint", "kind"])
        rtt = GaugeMetricFamily(
            "ragcost_endpoint_rtt_seconds",
            "Mean round trip of a stage's calls to an endpoint, first byte out to first "
            "byte back.", labels=["scenario", "stage", "endpoint"])
        growth = GaugeMetricFamily(
            "ragcost_stage_rss_peak_growth_bytes",
            "The largest rise of the resident set above its level when a stage began, over "
            "a scenario's requests (--ragcost-system).", labels=["scenario", "stage"])
        for outcome in self.outcomes:
            run = outcome.run
            scenario = run.scenario
            peaks: dict[str, float] = {}
            for req in run.requests:
                for st in req.stages:
                    if "rss_peak_growth_bytes" in st.metrics:
                        value = st.metrics["rss_peak_growth_bytes"]
                        peaks[st.name] = max(peaks.get(st.name, value), value)
            for stage, value in sorted(peaks.items()):
                growth.add_metric([scenario, stage], value)
            totals: dict[tuple[str, str], float] = {}
            for req in run.requests:
                for st in req.stages:
                    for metric, direction in (("disk_read_bytes", "read"),
                                              ("disk_write_bytes", "write")):
                        if metric in st.metrics:
                            key = (st.name, direction)
                            totals[key] = totals.get(key, 0.0) + st.metrics[metric]
            for (stage, direction), value in sorted(totals.items()):
                disk.add_metric([scenario, stage, direction], value)
            for use in endpoint_uses(run):
                where = [scenario, use.stage, use.endpoint]
                calls.add_metric(where, float(use.calls))
                sent.add_metric([*where, "out"], float(use.sent_bytes))
                sent.add_metric([*where, "in"], float(use.received_bytes))
                failed.add_metric([*where, "error"], float(use.errors))
                failed.add_metric([*where, "timeout"], float(use.timeouts))
                if use.rtt_ms is not None:
                    rtt.add_metric(where, use.rtt_ms / 1000.0)
        yield from (disk, growth, calls, sent, failed, rtt)

    @staticmethod
    def _request(scenario: str, req: RequestRecord, add: Any,
                 errors: dict[tuple[str, ...], float]) -> None:
        m = req.metrics
        add("req_wall", (scenario,), _s(m.get("wall_ms")))
        add("req_cpu", (scenario,), _s(m.get("cpu_ms")))
        add("req_gpu", (scenario,), _s(m.get("gpu_ms")))
        if "energy_j" in m:
            add("req_energy", (scenario, req.sources.get("energy_j", "unknown")), m["energy_j"])
        add("cost", (scenario,), m.get("cost_usd"))
        flat = req.flat()
        flat_sources = req.flat_sources()
        stages: dict[str, None] = {}
        for st in req.stages:
            stages.setdefault(st.name, None)
            where = (scenario, st.name, st.endpoint or "none")
            errors[where] = errors.get(where, 0.0) + (1.0 if st.error else 0.0)
        if req.error and not any(st.error for st in req.stages):
            where = (scenario, "request", "none")
            errors[where] = errors.get(where, 0.0) + 1.0
        for stage in stages:
            def get(metric: str, stage: str = stage) -> float | None:
                return flat.get(f"{stage}.{metric}")

            add("stage_wall", (scenario, stage), _s(get("wall_ms")))
            add("stage_cpu", (scenario, stage), _s(get("cpu_ms")))
            energy = get("energy_j")
            if energy is not None:
                source = flat_sources.get(f"{stage}.energy_j", "unknown")
                add("stage_energy", (scenario, stage, source), energy)
            for key, value in flat.items():
                prefix = f"{stage}.tokens_"
                if key.startswith(prefix) and key != f"{prefix}total":
                    add("tokens", (scenario, stage, key[len(prefix):]), value)
                prefix = f"{stage}.count_"
                if key.startswith(prefix):
                    add("items", (scenario, stage, key[len(prefix):]), value)
            ttft_ms = get("ttft_ms")
            add("ttft", (scenario, stage), _s(ttft_ms))
            completion = get("tokens_completion")
            wall_ms = get("wall_ms")
            if completion and wall_ms:
                streaming_ms = wall_ms - (ttft_ms or 0.0)
                if streaming_ms > 0:
                    add("rate", (scenario, stage), completion / (streaming_ms / 1000.0))


def _le(bound: float) -> str:
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def run_info(environment: Mapping[str, Any], version: str) -> dict[str, str]:
    """The labels of ``ragcost_run_info``: the commit, the plugin and the machine."""
    git = environment.get("git") or {}
    return {
        "git_sha": str(git.get("commit") or "unknown"),
        "git_dirty": str(bool(git.get("dirty"))).lower(),
        "version": version,
        "python": str(environment.get("python", "")),
        "environment": str(environment.get("id", "")),
    }


def registry(outcomes: Sequence[Outcome], info: Mapping[str, str],
             timestamp_s: float | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(RunCollector(outcomes, info, timestamp_s))
    return reg


def exposition(outcomes: Sequence[Outcome], info: Mapping[str, str],
               timestamp_s: float | None = None) -> str:
    """The text exposition of a run (what the textfile holds and the gateway receives)."""
    return generate_latest(registry(outcomes, info, timestamp_s)).decode("utf-8")


#: the most a push may take, whatever the gateway does (connect, send, answer)
PUSH_BUDGET_S = 5.0


def export(target: Target, outcomes: Sequence[Outcome], info: Mapping[str, str],
           timeout_s: float = PUSH_BUDGET_S) -> str:
    """Write or push the run's metrics; returns a line saying where they went.

    A push gives up after ``timeout_s`` in all (a gateway that accepts the connection and
    never answers costs the run that, once). Raises ``OSError`` (unwritable file,
    unreachable or silent gateway) for the caller to report; its message never holds the
    URL's credentials."""
    if target.kind == "textfile":
        path = Path(target.where)
        path.parent.mkdir(parents=True, exist_ok=True)
        # whole or not at all: the collector must never read half a file
        write_text_atomic(path, exposition(outcomes, info))
        return f"Prometheus metrics written to {target.where}"
    reg = registry(outcomes, info)
    failure: list[BaseException] = []

    def push() -> None:
        try:
            push_to_gateway(target.where, job="ragcost", registry=reg,
                            grouping_key=dict(target.grouping), timeout=timeout_s,
                            handler=_handler(target))
        except BaseException as exc:  # reported by the caller, never raised in the thread
            failure.append(exc)

    worker = threading.Thread(target=push, name="ragcost-pushgateway", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise OSError(f"the gateway did not answer within {timeout_s:g} s")
    if failure:
        exc = failure[0]
        secrets = tuple(s for s in (target.password, target.username) if s)
        text = redact_text(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__,
                           secrets)
        raise OSError(text) from None
    group = ", ".join(f"{k}={v}" for k, v in (("job", "ragcost"), *target.grouping))
    return f"Prometheus metrics pushed to {target.where} (group {group})"


def _handler(target: Target) -> Any:
    """prometheus-client's request handler: basic authentication when the URL had
    credentials, else the default."""
    from prometheus_client.exposition import basic_auth_handler, default_handler

    if target.username is None and target.password is None:
        return default_handler
    username, password = target.username or "", target.password or ""

    def handle(url: str, method: str, timeout: float | None, headers: list[tuple[str, str]],
               data: bytes) -> Callable[[], None]:
        handler: Callable[[], None] = basic_auth_handler(
            url, method, timeout, headers, data, username, password)
        return handler

    return handle


def families(text: str) -> Iterable[str]:
    """The metric family names in an exposition (for checks and tests)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        yield family.name
