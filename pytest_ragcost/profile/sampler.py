"""A sampling profiler that knows which stage each sample fell in.

A daemon thread wakes every ``interval_ms`` (jittered), reads the stack of every thread
that is inside a ``ragcost.stage()`` (``sys._current_frames()``), and counts that stack
under the stage's name. The stack is cut at the frame that opened the stage, so it
starts at the test's own code. Every sample stands for the mean gap between the
sampler's wake-ups, so a stage's profile adds up to about its wall time, waits on I/O
included (they show as the frame that waits, e.g. ``socket.recv``), even where a busy
machine wakes the sampler less often than asked.

Why a thread in the process, measured against the alternatives in
benchmarks/bench_profile.py: it needs no ptrace permission (py-spy does, and CI
containers often deny it), it sees every thread (a ``setitimer`` signal handler sees only
the main thread and takes the application's ``SIGPROF``), and it costs about what a
signal handler costs. Its limit: a thread that holds the GIL in C code for longer than
the interval is sampled when it lets go, with the whole wait given to the stack it has
then.

A profile that cannot be taken says why (:attr:`ScenarioProfile.note`); nothing here
raises into the run.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

from . import marks

#: the default sampling interval: chosen by benchmarks/bench_profile.py (overhead and
#: detection of a 3 ms function inside a 10 ms stage)
DEFAULT_INTERVAL_MS = 5.0
#: the interpreter's switch interval while sampling: the sampling interval over this
#: (measured in benchmarks/bench_profile.py: at the sampling interval itself, samples
#: lock onto the hand-overs of the GIL and over-weight the end of a loop)
SWITCH_DIVISOR = 2.5
#: frames kept per sample, counted from the stage's own frame (deeper ones are cut)
MAX_DEPTH = 96
#: distinct stacks kept per stage; a new one past this is folded into its first eight
#: frames so a long run's profile stays small
MAX_STACKS = 2000


@dataclass(frozen=True, order=True)
class Frame:
    """One function on a stack: its qualified name, file and first line."""

    function: str
    file: str
    line: int

    def text(self) -> str:
        """``function (file:line)``, as collapsed stacks and tooltips show it."""
        return f"{self.function} ({self.file}:{self.line})"

    @classmethod
    def parse(cls, text: str) -> Frame:
        """The inverse of :meth:`text` (a frame without a place keeps an empty file)."""
        name, sep, rest = text.rpartition(" (")
        if not sep or not rest.endswith(")"):
            return cls(text, "", 0)
        file, _, line = rest[:-1].rpartition(":")
        return cls(name, file, int(line) if line.isdigit() else 0)


Stack = tuple[Frame, ...]


@dataclass(frozen=True)
class StageProfile:
    """The samples of one stage: stack (outermost frame first) -> milliseconds of wall
    time it stands for, and how many samples."""

    stage: str
    stacks: Mapping[Stack, float]
    samples: int

    @property
    def total_ms(self) -> float:
        return sum(self.stacks.values())

    def self_ms(self) -> dict[Frame, float]:
        """Per function, the time it was the innermost frame (its own work)."""
        out: dict[Frame, float] = {}
        for stack, ms in self.stacks.items():
            if stack:
                out[stack[-1]] = out.get(stack[-1], 0.0) + ms
        return out

    def total_by_frame(self) -> dict[Frame, float]:
        """Per function, the time it was anywhere on the stack (with what it called)."""
        out: dict[Frame, float] = {}
        for stack, ms in self.stacks.items():
            for frame in set(stack):
                out[frame] = out.get(frame, 0.0) + ms
        return out


@dataclass(frozen=True)
class ScenarioProfile:
    """The profile of one scenario's test: per stage, its samples.

    ``requests`` is how many requests the scenario recorded (to show time per request);
    ``note`` says why there are no samples when there are none.
    """

    scenario: str
    interval_ms: float
    stages: Mapping[str, StageProfile] = field(default_factory=dict)
    requests: int = 0
    sampler: str = "thread"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (collapsed stacks), for pytest-xdist's worker transport."""
        return {
            "scenario": self.scenario, "interval_ms": self.interval_ms,
            "requests": self.requests, "sampler": self.sampler, "note": self.note,
            "stages": {
                name: {"samples": sp.samples,
                       "stacks": {";".join(f.text() for f in stack): ms
                                  for stack, ms in sp.stacks.items()}}
                for name, sp in self.stages.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioProfile:
        stages = {}
        for name, sp in (data.get("stages") or {}).items():
            stacks = {tuple(Frame.parse(t) for t in key.split(";") if t): float(ms)
                      for key, ms in sp["stacks"].items()}
            stages[str(name)] = StageProfile(str(name), stacks, int(sp["samples"]))
        note = data.get("note")
        return cls(str(data["scenario"]), float(data["interval_ms"]), stages,
                   int(data.get("requests", 0)), str(data.get("sampler", "thread")),
                   None if note is None else str(note))


def unavailable_reason() -> str | None:
    """Why the in-process sampler cannot run here, or ``None`` when it can."""
    if not hasattr(sys, "_current_frames"):
        return (f"this Python ({sys.implementation.name}) has no sys._current_frames(), "
                "which the sampler reads")
    return None


class Sampler:
    """Samples the stacks of threads inside stages until :meth:`stop`.

    One at a time per process (the stage registry is global): starting a second while
    one runs gives a profile whose note says so.
    """

    _running = False
    _guard = threading.Lock()

    def __init__(self, scenario: str, interval_ms: float = DEFAULT_INTERVAL_MS) -> None:
        self.scenario = scenario
        self.interval_ms = interval_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stacks: dict[str, dict[tuple[CodeType, ...], int]] = {}
        self._wakeups = 0
        self._t0 = self._t1 = 0.0
        self._samples: dict[str, int] = {}
        self._note: str | None = unavailable_reason()
        self._owner = False
        self._switch_s: float | None = None

    def start(self) -> Sampler:
        if self._note is not None:
            return self
        with Sampler._guard:
            if Sampler._running:
                self._note = "another profile was being taken in this process"
                return self
            Sampler._running = True
            self._owner = True
        marks.clear()
        marks.active = True
        # a thread running Python code lets the GIL go every switch interval (5 ms by
        # default) when another thread asks for it; the sample is taken then. A switch
        # interval well below the (jittered) sampling interval keeps that wait short, so
        # samples fall where the time goes, not in step with the GIL's hand-overs
        self._switch_s = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_s, self.interval_ms / 1000.0 / SWITCH_DIVISOR))
        try:
            self._thread = threading.Thread(target=self._run, name="ragcost-profile",
                                            daemon=True)
            self._thread.start()
        except Exception as exc:  # e.g. no more threads: the run goes on unprofiled
            self._note = f"the sampler thread could not start: {type(exc).__name__}: {exc}"
            self._release()
        return self

    def _release(self) -> None:
        marks.active = False
        marks.clear()
        if self._switch_s is not None:
            sys.setswitchinterval(self._switch_s)
            self._switch_s = None
        if self._owner:
            with Sampler._guard:
                Sampler._running = False
            self._owner = False

    def _run(self) -> None:
        interval_s = self.interval_ms / 1000.0
        own = threading.get_ident()
        # a jittered interval: a fixed one locks onto a loop of the same period and
        # samples the same spot of it every time
        jitter = random.Random(0x5A17)
        self._t0 = time.perf_counter()
        try:
            while not self._stop.wait(interval_s * (0.5 + jitter.random())):
                self._wakeups += 1
                inside = marks.snapshot()
                if not inside:
                    continue
                frames = sys._current_frames()
                for tid, stage, root, _opened in inside:
                    if tid != own and (frame := frames.get(tid)) is not None:
                        self._add(stage, frame, root)
                del frames
        except Exception as exc:  # a sampler failure ends the profile, not the run
            self._note = f"the sampler stopped: {type(exc).__name__}: {exc}"
        self._t1 = time.perf_counter()

    def _add(self, stage: str, frame: FrameType, root: FrameType | None) -> None:
        codes: list[CodeType] = []
        f: FrameType | None = frame
        while f is not None:
            codes.append(f.f_code)
            if f is root:
                break
            f = f.f_back
        codes.reverse()
        key = tuple(codes[:MAX_DEPTH])
        stacks = self._stacks.setdefault(stage, {})
        if key not in stacks and len(stacks) >= MAX_STACKS:
            key = key[:8]  # fold a rare deep stack into its outer frames
        stacks[key] = stacks.get(key, 0) + 1
        self._samples[stage] = self._samples.get(stage, 0) + 1

    def stop(self, requests: int = 0) -> ScenarioProfile:
        """End sampling and return the profile (safe to call when it never started)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._release()
        # every wake-up stands for the same share of the wall time (the mean gap between
        # wake-ups): weighting a sample by its own gap would give the stack that was
        # running when a late sampler finally woke the time of the stacks before it
        gap_ms = (self._t1 - self._t0) * 1000.0 / self._wakeups if self._wakeups else 0.0
        stages = {
            name: StageProfile(name, _frames(stacks, gap_ms), self._samples.get(name, 0))
            for name, stacks in sorted(self._stacks.items())
        }
        note = self._note
        if note is None and not stages:
            note = ("no sample fell inside a stage (stages shorter than the "
                    f"{self.interval_ms:g} ms interval, or no ragcost.stage() ran)")
        return ScenarioProfile(self.scenario, self.interval_ms, stages, requests,
                               "thread", note)


#: the frames named so far, by file and code object: code objects compare equal when
#: their contents are, whatever file they came from (the same function in two copies of
#: a file would otherwise be named after the first copy seen)
_names: dict[tuple[str, CodeType], Frame] = {}


def _frame(code: CodeType) -> Frame:
    key = (code.co_filename, code)
    known = _names.get(key)
    if known is None:
        name = getattr(code, "co_qualname", code.co_name)
        known = _names[key] = Frame(name, code.co_filename.replace(";", ","),
                                    code.co_firstlineno)
    return known


def _frames(stacks: Mapping[tuple[CodeType, ...], int], gap_ms: float) -> dict[Stack, float]:
    out: dict[Stack, float] = {}
    for codes, count in stacks.items():
        key = tuple(_frame(c) for c in codes)
        out[key] = out.get(key, 0.0) + count * gap_ms
    return out


def merge(profiles: Iterable[ScenarioProfile]) -> ScenarioProfile | None:
    """Several profiles of one scenario (the rounds of an A/B side) as one."""
    items = list(profiles)
    if not items:
        return None
    stages: dict[str, dict[Stack, float]] = {}
    samples: dict[str, int] = {}
    for p in items:
        for name, sp in p.stages.items():
            into = stages.setdefault(name, {})
            for stack, ms in sp.stacks.items():
                into[stack] = into.get(stack, 0.0) + ms
            samples[name] = samples.get(name, 0) + sp.samples
    first = items[0]
    return ScenarioProfile(
        first.scenario, first.interval_ms,
        {n: StageProfile(n, s, samples[n]) for n, s in stages.items()},
        sum(p.requests for p in items), first.sampler,
        None if stages else first.note,
    )
