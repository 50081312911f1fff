"""One thread's open request: its clocks, its stages, and the record it closes into.

The main thread of a test has one :class:`RequestRecorder` for its
``ragcost.requests()`` loop; under ``ragcost.load()`` every call gets one of its own on
the thread that runs it (see :mod:`pytest_ragcost.record.child`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..meters.window import Plan, Window
from ..run import RequestRecord, StageRecord
from .checks import MAX_COUNT, RagcostUsageError, digits, type_name

if TYPE_CHECKING:
    from ..export.opentelemetry import SpanBridge
    from .stage import Stage

_perf_ns = time.perf_counter_ns
_SUMMED = ("tokens_", "count_")


# W3C trace-context sized (16 random bytes), so it can be joined with OTel traces. Drawn
# from a generator seeded by the OS, not os.urandom per request: a system call per request
# costs more than the rest of a request's bookkeeping on a busy machine
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def trace_id() -> str:
    return f"{_ids.getrandbits(128) or 1:032x}"


class RequestRecorder:
    """The request open on one thread. ``metering`` off: it checks the order of calls
    (stages inside a request, not nested) and measures nothing."""

    def __init__(
        self,
        *,
        metering: bool,
        stage_plan: Plan,
        request_plan: Plan,
        counter: Any = None,
        token_notes: dict[str, str] | None = None,
        spans: SpanBridge | None = None,
    ) -> None:
        self.metering = metering
        self.stage_plan = stage_plan
        self._request_plan = request_plan
        self._counter = counter
        #: notes about approximate token counts, by model (shared with the scenario)
        self.token_notes: dict[str, str] = {} if token_notes is None else token_notes
        self._spans = spans if metering else None
        self.is_open = False
        #: False during warm-up: the request runs but leaves no record
        self.recording = True
        #: set when the request was closed from outside (a timed-out call): whatever its
        #: thread records afterwards is dropped
        self.abandoned = False
        self.stage: Stage | None = None
        self.stages: list[StageRecord] = []
        self.trace = ""
        self._item: tuple[str, str] | None = None
        self._window: Window | None = None
        self._ttft_ns: int | None = None
        #: time spent counting tokens inside the open request: ours, not the pipeline's
        self.own_ns = 0
        self.own_cpu_ns = 0

    # -- the request ------------------------------------------------------------------------
    def open(self, item: tuple[str, str] | None = None) -> None:
        self.is_open = True
        self.stage = None
        self.stages = []
        self.trace = trace_id()
        self._item = item
        self._ttft_ns = None
        self.own_ns = 0
        self.own_cpu_ns = 0
        if self.metering:
            self._window = self._request_plan.open()
        if self._spans is not None and self.recording:
            # inside the window, so a time to first token from spans never exceeds wall_ms
            self._spans.open_request(self.trace)

    @property
    def start_ns(self) -> int | None:
        """perf_counter_ns when the open request started, if metered."""
        return self._window.wall0_ns if self._window is not None else None

    @property
    def measuring(self) -> bool:
        """Whether what happens now becomes part of a record."""
        return self.metering and self.recording and not self.abandoned

    @property
    def window(self) -> Window | None:
        """The open request's window, if metered."""
        return self._window

    def close(self, error: str | None = None, index: int = 0) -> RequestRecord | None:
        """Close the open request; its record, unless nothing is recorded."""
        if not self.is_open:
            return None
        self.is_open = False
        self.stage = None
        window = self._window
        self._window = None
        if not self.measuring or window is None:
            return None
        stages: Sequence[StageRecord] = self.stages
        span_ttft_ms: float | None = None
        if self._spans is not None:
            # the app's own spans: provider tokens and stages it ran outside ragcost.stage()
            stages, span_ttft_ms = self._spans.close_request(stages)
        figures = window.close(self.own_ns, self.own_cpu_ns)
        metrics = figures.metrics
        sources = figures.sources
        if self._ttft_ns is not None:
            metrics["ttft_ms"] = (self._ttft_ns - window.wall0_ns) / 1e6
            sources["ttft_ms"] = "timer"
        elif span_ttft_ms is not None:
            metrics["ttft_ms"] = span_ttft_ms
            sources["ttft_ms"] = "span"
        return self._record(metrics, sources, tuple(stages), error, index)

    def abandon(self, error: str, index: int = 0) -> RequestRecord | None:
        """Close the request from another thread (its call ran past its time): a record of
        what it did so far, failed with ``error``; its thread's later calls are dropped."""
        if not self.is_open or self.abandoned:
            return None
        self.abandoned = True
        window = self._window
        if not (self.metering and self.recording) or window is None:
            return None
        wall_ms = (_perf_ns() - window.wall0_ns) / 1e6
        return self._record(
            {"wall_ms": wall_ms}, {"wall_ms": "timer"}, tuple(self.stages), error, index
        )

    def _record(
        self,
        metrics: dict[str, float],
        sources: dict[str, str],
        stages: tuple[StageRecord, ...],
        error: str | None,
        index: int,
    ) -> RequestRecord:
        # request totals of what stages counted: tokens and counts add up over stages
        failed: StageRecord | None = None
        failures = 0
        for st in stages:
            for name, value in st.metrics.items():
                if name.startswith(_SUMMED):
                    if name in metrics:
                        metrics[name] += value
                    else:
                        metrics[name] = value
                        sources[name] = st.sources.get(name, "derived")
            if st.error:
                failures += 1
                failed = failed or st
        if error is None and failed is not None:
            error = f"stage {failed.name!r}: {failed.error}"
        metrics["errors"] = float(failures or (1 if error else 0))
        sources["errors"] = "given"
        item = self._item
        return RequestRecord(
            trace_id=self.trace,
            index=index,
            metrics=metrics,
            sources=sources,
            stages=stages,
            error=error,
            item_id=item[0] if item else None,
            item_label=item[1] if item else None,
        )

    def first_token(self, now_ns: int) -> None:
        if self._ttft_ns is None:
            self._ttft_ns = now_ns

    # -- stages -----------------------------------------------------------------------------
    def enter_stage(self, stage: Stage) -> None:
        __tracebackhide__ = True
        if self.stage is not None:
            msg = (
                f"stage {stage.name!r} was opened inside stage {self.stage.name!r}; stages do "
                "not nest: close one before opening the next"
            )
            raise RagcostUsageError(msg)
        if not self.is_open:
            msg = (
                f"stage {stage.name!r} was opened outside a request: open stages inside "
                "`for item in ragcost.requests(items):`"
            )
            raise RagcostUsageError(msg)
        self.stage = stage
        if self._spans is not None and self.recording:
            self._spans.enter_stage()

    def exit_stage(self, record: StageRecord | None) -> None:
        self.stage = None
        if self._spans is not None and self.recording:
            self._spans.exit_stage()
        if record is not None and self.recording and not self.abandoned:
            self.stages.append(record)

    # -- tokens -----------------------------------------------------------------------------
    def count_tokens(self, value: Any, model: str | None, stage: str, kind: str) -> tuple[int, str]:
        __tracebackhide__ = True
        if isinstance(value, bool):
            value = None  # falls into the error below
        if isinstance(value, int):
            if not 0 <= value <= MAX_COUNT:
                msg = (
                    f"stage {stage!r}: st.tokens({kind}=...) as a count must be from 0 to "
                    f"2**53 (got {digits(value)})"
                )
                raise RagcostUsageError(msg)
            return value, "given"
        if isinstance(value, str) or (
            isinstance(value, Sequence)
            and not isinstance(value, bytes | bytearray)
            and all(isinstance(v, str) for v in value)
        ):
            result = self._counter.count(value, model)
            if getattr(result, "assumed", False):
                self.token_notes[str(model)] = (
                    f"model {model!r} is unknown to tiktoken; tokens counted with "
                    f"{result.encoding} as an approximation"
                )
            return int(result.tokens), "counted"
        msg = (
            f"stage {stage!r}: st.tokens({kind}=...) takes a string, a list of strings or an "
            f"integer count (got {type_name(value)})"
        )
        raise RagcostUsageError(msg)
