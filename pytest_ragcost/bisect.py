"""``ragcost bisect GOOD BAD``: the first commit between two refs that moved a metric.

Every commit measured runs in a temporary ``git worktree`` (the same machinery as the
same-job A/B, :mod:`pytest_ragcost.ab`), as a ``pytest --ragcost`` subprocess with the
given pytest arguments; the user's checkout, branch, index and stash are never touched,
and the worktrees are removed however the bisect ends (Ctrl-C and SIGTERM included).

Which commits: the first-parent chain from GOOD (exclusive) to BAD (inclusive), oldest
first. A commit "moved" the metric when, against GOOD:

- an exact metric (tokens, counts, errors; ``cost_usd`` priced from tokens) has another
  value on any item: compared by value, one run each;
- a noisy metric (times, energy) is judged by the same-job A/B rule
  (:func:`pytest_ragcost.ab.compare`): GOOD and the commit in ``rounds`` alternating
  rounds, moved when the verdict FAILs (or improved past the tolerance).

BAD must have moved and GOOD is taken as not moved; the search halves the range each
step, so n commits take about log2(n) measurements. Without ``--metric`` the metric is
the first that moved between GOOD and BAD (exact metrics first). No pytest import.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ab
from .compare.evidence import items_used
from .compare.itemvalues import item_values
from .report.verdicts import sentence
from .run import metric_class, split_key

#: alternating rounds per measurement of a noisy metric (GOOD and the commit each run)
DEFAULT_ROUNDS = 4


class BisectError(Exception):
    """The bisect cannot go on; ``str()`` says what, where and how to fix it."""


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True)
class Measure:
    """What one commit's runs said about the metric against GOOD, per scenario."""

    moved: bool
    #: scenario -> (GOOD's value, this commit's value) of the metric (mean over items)
    values: dict[str, tuple[float | None, float | None]]
    detail: str = ""


@dataclass
class BisectResult:
    good: Commit
    bad: Commit
    key: str
    scenario: str | None
    #: the first commit that moved the metric, and the commit before it
    first: Commit | None = None
    before: Commit | None = None
    measures: dict[str, Measure] = field(default_factory=dict)
    steps: int = 0
    candidates: int = 0
    also_moved: list[str] = field(default_factory=list)


def _git(args: Sequence[str], cwd: Path) -> str:
    try:
        return ab._git(args, cwd)
    except ab.ABError as exc:
        raise BisectError(str(exc)) from None


def commits_between(top: Path, good: str, bad: str) -> list[Commit]:
    """The first-parent commits after ``good`` up to ``bad``, oldest first."""
    try:
        _git(["merge-base", "--is-ancestor", good, bad], top)
    except BisectError:
        msg = (f"{good[:12]} is not an ancestor of {bad[:12]}: give GOOD as the older commit "
               "and BAD as a later one on the same history (ragcost bisect GOOD BAD)")
        raise BisectError(msg) from None
    out = _git(["log", "--first-parent", "--reverse", "--format=%H%x09%s",
                f"{good}..{bad}"], top)
    commits = []
    for line in out.splitlines():
        sha, _, subject = line.partition("\t")
        commits.append(Commit(sha, subject))
    return commits


def _subject(top: Path, sha: str) -> str:
    return _git(["log", "-1", "--format=%s", sha], top)


@contextlib.contextmanager
def _checkout(top: Path, sha: str) -> Iterator[Path]:
    try:
        with ab.base_checkout(top, sha) as tree:
            yield tree
    except ab.ABError as exc:
        raise BisectError(str(exc)) from None


def _scenario_mean(requests: Sequence[Any], key: str) -> float | None:
    values = list(item_values(requests, key).values.values())
    return math.fsum(values) / len(values) if values else None


class Bisector:
    """Measures commits against GOOD; one per ``ragcost bisect``."""

    def __init__(self, top: Path, rel: Path, good: Commit, pytest_args: Sequence[str],
                 workdir: Path, *, rounds: int, budget: Any, python: str,
                 log: Callable[[str], None]) -> None:
        self.top = top
        self.rel = rel
        self.good = good
        self.args = ab.strip_outer_options(pytest_args)
        self.workdir = workdir
        self.rounds = rounds
        self.budget = budget
        self.python = python
        self.log = log
        self._good_runs: list[ab.SideRun] = []
        self._good_tree: Path | None = None
        self._runs = 0

    def _run(self, side: str, rnd: int, tree: Path) -> ab.SideRun:
        where = tree / self.rel
        if not where.is_dir():
            raise BisectError(f"that commit has no directory {self.rel}; nothing to run there")
        self._runs += 1
        try:
            return ab.run_side(side, self._runs, where, tree, self.args, self.workdir,
                               self.python)
        except ab.ABError as exc:
            raise BisectError(str(exc).replace(f"the {side} run", "a run")) from None

    def good_run(self, tree: Path, rnd: int) -> ab.SideRun:
        while len(self._good_runs) < rnd:
            self._good_runs.append(self._run("base", len(self._good_runs) + 1, tree))
        return self._good_runs[rnd - 1]

    def runs_of(self, commit: Commit, good_tree: Path, noisy: bool) -> list[ab.SideRun]:
        """GOOD's and ``commit``'s runs, paired by round (alternating order for noisy
        metrics, where GOOD is run afresh beside each commit)."""
        rounds = self.rounds if noisy else 1
        runs: list[ab.SideRun] = []
        with _checkout(self.top, commit.sha) as tree:
            for rnd in range(1, rounds + 1):
                if noisy:
                    pair = [("base", good_tree), ("head", tree)]
                    if rnd % 2 == 0:
                        pair.reverse()
                    for side, where in pair:
                        run = self._run(side, rnd, where)
                        runs.append(ab.SideRun(side, rnd, run.seconds, run.scenarios,
                                               run.environment))
                else:
                    good = self.good_run(good_tree, 1)
                    head = self._run("head", rnd, tree)
                    runs.append(ab.SideRun("base", rnd, good.seconds, good.scenarios,
                                           good.environment))
                    runs.append(ab.SideRun("head", rnd, head.seconds, head.scenarios,
                                           head.environment))
        return runs

    def measure(self, commit: Commit, key: str, scenario: str | None,
                good_tree: Path) -> Measure:
        noisy = metric_class(split_key(key)[1]) not in ("exact", "derived")
        runs = self.runs_of(commit, good_tree, noisy)
        return judge(runs, key, scenario, self.budget, noisy)


def judge(runs: Sequence[ab.SideRun], key: str, scenario: str | None, budget: Any,
          noisy: bool) -> Measure:
    """Did ``key`` move from the ``base`` (GOOD) runs to the ``head`` runs?"""
    last_base = next(r for r in reversed(runs) if r.side == "base")
    last_head = next(r for r in reversed(runs) if r.side == "head")
    names = sorted(set(last_base.scenarios) | set(last_head.scenarios))
    if scenario is not None:
        names = [n for n in names if n == scenario]
    values: dict[str, tuple[float | None, float | None]] = {}
    moved = False
    details = []
    verdicts = ab.compare(runs, budget) if noisy else {}
    for name in names:
        base_reqs = last_base.scenarios.get(name, ())
        head_reqs = last_head.scenarios.get(name, ())
        b, h = _scenario_mean(base_reqs, key), _scenario_mean(head_reqs, key)
        if b is None and h is None:
            continue
        values[name] = (b, h)
        if noisy:
            verdict = next((v for v in verdicts.get(name, []) if v.key == key), None)
            if verdict is not None:
                values[name] = (verdict.baseline, verdict.current)
                if verdict.status == "FAIL" or verdict.improved:
                    moved = True
                    details.append(f"{name}: {sentence(verdict)}")
            continue
        base_items = item_values(base_reqs, key)
        head_items = item_values(head_reqs, key)
        if (b is None) != (h is None) or set(base_items.values) != set(head_items.values) or any(
            not _same(base_items.values[i], head_items.values[i]) for i in head_items.values
        ):
            moved = True
            used = items_used(base_items, head_items, side="base")
            items = "; ".join(f"item {m.label!r}: {key} {_fmt(m.baseline)} → {_fmt(m.current)}"
                              for m in used.moved)
            if used.moved_count > len(used.moved):
                items += f"; {used.moved_count - len(used.moved)} more item(s) moved"
            details.append(f"{name}: {items}" if items else f"{name}: {key} appeared or went")
    return Measure(moved, values, "; ".join(details))


def _same(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def moved_keys(runs: Sequence[ab.SideRun], budget: Any, scenario: str | None) -> list[str]:
    """The metric keys that moved from GOOD to BAD (exact ones by value, then noisy ones
    by the A/B verdict), in that order."""
    last_base = next(r for r in reversed(runs) if r.side == "base")
    last_head = next(r for r in reversed(runs) if r.side == "head")
    keys: set[str] = set()
    for run in (last_base, last_head):
        for name, reqs in run.scenarios.items():
            if scenario is None or name == scenario:
                for req in reqs:
                    keys.update(req.flat())
    exact = []
    for key in sorted(keys):
        try:
            kind = metric_class(split_key(key)[1])
        except ValueError:
            continue
        if kind in ("exact", "derived") and judge(runs, key, scenario, budget, False).moved:
            exact.append(key)
    noisy = []
    for name, verdicts in sorted(ab.compare(runs, budget).items()):
        if scenario is not None and name != scenario:
            continue
        for v in verdicts:
            if metric_class(split_key(v.key)[1]) == "noisy" and (
                    v.status == "FAIL" or v.improved) and v.key not in noisy:
                noisy.append(v.key)
    return exact + noisy


def run_bisect(
    good_ref: str,
    bad_ref: str,
    *,
    key: str | None = None,
    scenario: str | None = None,
    pytest_args: Sequence[str] = (),
    cwd: Path | None = None,
    config: Path | None = None,
    rounds: int = DEFAULT_ROUNDS,
    python: str | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> BisectResult:
    """Find the first commit after ``good_ref`` up to ``bad_ref`` that moved ``key``.

    Raises :class:`BisectError` for bad refs, a metric that did not move between GOOD and
    BAD, or a commit whose tests could not run."""
    import sys

    if key is not None:
        try:
            split_key(key)
        except ValueError:
            raise BisectError(f"--metric {key!r} is not a metric key: write 'metric' or "
                              "'stage.metric', e.g. tokens_context or "
                              "retrieve.wall_ms") from None
    if rounds < 2:
        raise BisectError(f"--rounds must be at least 2 (got {rounds}): the spread of the "
                          "rounds is the noise of a noisy metric")
    here = (cwd or Path.cwd()).resolve()
    try:
        top, good_sha = ab.resolve_ref(good_ref, here)
        _, bad_sha = ab.resolve_ref(bad_ref, here)
    except ab.ABError as exc:
        raise BisectError(str(exc).replace("--ragcost-ab: ", "")) from None
    rel = here.relative_to(top.resolve())
    good = Commit(good_sha, _subject(top, good_sha))
    bad = Commit(bad_sha, _subject(top, bad_sha))
    commits = commits_between(top, good_sha, bad_sha)
    if not commits:
        raise BisectError(f"no commit between {good_ref} ({good.short}) and {bad_ref} "
                          f"({bad.short}): they are the same commit")
    budget = ab._load_budget(config or here / "ragcost.yaml") if config or (
        here / "ragcost.yaml").exists() else None
    log(f"ragcost bisect: {len(commits)} commit(s) after {good.short} up to {bad.short}, "
        f"about {max(1, math.ceil(math.log2(len(commits))))} step(s) after checking BAD")
    with tempfile.TemporaryDirectory(prefix="ragcost-bisect-") as w, \
            _checkout(top, good_sha) as good_tree:
        b = Bisector(top, rel, good, pytest_args, Path(w), rounds=rounds, budget=budget,
                     python=python or sys.executable, log=log)
        if key is None:
            # which metric: BAD against GOOD, noisy rounds included
            runs = b.runs_of(bad, good_tree, noisy=True)
            keys = moved_keys(runs, budget, scenario)
            if not keys:
                raise BisectError(f"no metric moved from {good.short} to {bad.short} "
                                  "(exact metrics by value, noisy ones by the A/B rule); "
                                  "nothing to bisect")
            key = keys[0]
            first_measure = judge(runs, key, scenario, budget,
                                  metric_class(split_key(key)[1]) not in ("exact", "derived"))
            result = BisectResult(good, bad, key, scenario, also_moved=keys[1:])
        else:
            result = BisectResult(good, bad, key, scenario)
            first_measure = b.measure(bad, key, scenario, good_tree)
        result.candidates = len(commits)
        result.measures[bad.sha] = first_measure
        log(f"ragcost bisect: BAD {bad.short} ({bad.subject}): {key} "
            f"{_describe(first_measure)}")
        if not first_measure.values:
            raise BisectError(f"no scenario recorded {key} in {bad.short}; give --metric a "
                              "key the runs record (see ragcost report of a run's JSON)")
        if not first_measure.moved:
            raise BisectError(f"{key} did not move from {good.short} to {bad.short} "
                              f"({_describe(first_measure)}); nothing to bisect")
        lo, hi = -1, len(commits) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            c = commits[mid]
            m = b.measure(c, key, scenario, good_tree)
            result.measures[c.sha] = m
            result.steps += 1
            log(f"ragcost bisect: step {result.steps}: {c.short} ({c.subject}): {key} "
                f"{_describe(m)} -> {'moved' if m.moved else 'as GOOD'}")
            if m.moved:
                hi = mid
            else:
                lo = mid
        result.first = commits[hi]
        result.before = commits[lo] if lo >= 0 else good
    return result


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:.4g}"


def _describe(m: Measure) -> str:
    parts = [f"{name} {_fmt(b)} -> {_fmt(h)}" for name, (b, h) in sorted(m.values.items())]
    return "; ".join(parts) or "not recorded"


def summary_lines(result: BisectResult) -> list[str]:
    """The answer: the commit, and the metric on each side of it."""
    first, before = result.first, result.before
    assert first is not None
    assert before is not None
    m = result.measures.get(first.sha)
    lines = [f"ragcost bisect: {first.sha} is the first commit that moved {result.key}",
             f"  {first.short} {first.subject}"]
    prev = result.measures.get(before.sha)
    for name, (good_value, value) in sorted((m.values if m else {}).items()):
        side = (prev.values.get(name, (good_value, good_value))[1]
                if prev is not None else good_value)
        lines.append(f"  {name}: {result.key} {_fmt(side)} at {before.short} -> "
                     f"{_fmt(value)} at {first.short}")
    if m is not None and m.detail:
        lines.append(f"  {m.detail}")
    lines.append(f"  ({result.candidates} commit(s) after {result.good.short}, "
                 f"{result.steps} step(s) after checking BAD {result.bad.short})")
    if result.also_moved:
        lines.append("  also moved from GOOD to BAD: " + ", ".join(result.also_moved)
                     + " (bisect each with --metric)")
    return lines

