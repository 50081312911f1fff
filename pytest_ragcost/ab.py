"""Same-job A/B: the code at a git ref (base) against the working tree (head), measured in
alternating rounds on the same machine under the same load.

Why: on a shared machine a whole run can be 20% slower than the run before it (load,
clock frequency, caches), which no comparison with a stored baseline can tell from a
regression. Running base and head back to back, many times, in alternating order
(base-head, head-base, ...) exposes both to the same conditions; the change is then
measured *within* each round, and the spread of the rounds is the honest noise.

How:

1. ``git worktree add --detach`` checks REF out into a temporary directory (removed
   afterwards). Base runs there, head runs in the current directory; both with the same
   Python and the same pytest arguments, as ``python -m pytest --ragcost
   --ragcost-json=...`` subprocesses. Each gets ``RAGCOST_AB_SIDE`` (``base``/``head``)
   and ``RAGCOST_AB_ROUND`` in its environment. A project installed into the environment
   (``pip install -e .`` of a ``src/`` layout) is imported from head on both sides:
   ``RAGCOST_AB_ROOT`` names the checkout a conftest can put first on ``sys.path``.
2. Rounds alternate the order, so warming up favours neither side.
   By default the A/B is sequential: after every second round the verdicts are judged
   at that look's stricter levels (:mod:`pytest_ragcost.compare.sequential`: the fixed
   design's error spread over the looks), and the rounds stop as soon as a metric fails
   or every metric is decided, else at :data:`~pytest_ragcost.compare.sequential.
   DEFAULT_MAX_ROUNDS`. ``rounds=N`` (``--ragcost-ab-rounds``) runs exactly N rounds and
   judges once at the rule's own levels.
3. Per scenario and metric key (the scenario's ragcost.yaml entries, else the default
   keys), requests are paired by item id:

   - noisy metrics: in each round, the mean over the shared items of
     ``log(head / base)``; across rounds, the one paired estimator
     (:func:`pytest_ragcost.compare.evidence.paired`) gives the interval of the ratio
     (Student t, rounds - 1 degrees of freedom). The gate's own rule decides
     (:func:`pytest_ragcost.compare.rules.judge`): FAIL only when the interval lies above
     the tolerance;
   - exact metrics: item by item on the last round (they do not vary), naming the items
     that moved.

   Tolerances come from head's ragcost.yaml. A noisy entry's ``severity: warn`` is not
   applied here: it says a stored baseline from another run cannot be trusted on a shared
   machine, and both sides of an A/B share one.

No pytest import: the ``ragcost ab`` command and ``pytest --ragcost-ab=REF`` both call
:func:`run_ab`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compare.describe import stat_value
from .compare.evidence import Evidence, items_exact, log_ratios, paired, shared_items
from .compare.itemvalues import has_items, item_values
from .compare.rules import Rule, judge, worst
from .compare.sequential import DEFAULT_MAX_ROUNDS, Look, decided, look_rule, looks
from .profile.sampler import ScenarioProfile
from .run import (
    Outcome,
    RequestRecord,
    ScenarioRun,
    Verdict,
    metric_class,
    split_key,
)
from .run.model import Finding, ItemsUsed

#: why the rounds stopped: a metric failed or every one was decided, no metric rose
#: after the fixed design's rounds, the cap of a sequential A/B was reached, or
#: ``--ragcost-ab-rounds`` fixed their number
STOPPED = ("decided", "no_rise", "cap", "fixed")
#: from this look on, a sequential A/B in which no metric shows a rise at the rule's own
#: levels stops (see :func:`_no_rise`): the second look, the first whose Student t has
#: 3 degrees of freedom (at round 2 the 90% interval is 4.5 round deviations wide each
#: way, so nearly every change would show "no rise" there)
NO_RISE_FROM = 4
#: pytest exit codes a side may end with and still have measured: passed, and "tests
#: failed" (its own gate against its own ragcost.yaml is not what A/B decides)
_USABLE_EXIT = (0, 1)
#: options of the outer command that must not reach the runs of each side
_OUTER_OPTIONS = (
    "--ragcost-ab",
    "--ragcost-ab-rounds",
    "--ragcost-json",
    "--ragcost-markdown",
    "--ragcost-html",
)
#: ``--ragcost-profile`` of the outer command: every side then profiles all its scenarios
#: (a side's own gate is not what decides), and the report sets base against head
_PROFILE_FLAG = "--ragcost-profile"
_PROFILE_VALUES = ("failed", "all", "off")


class ABError(Exception):
    """The A/B run cannot go on; ``str()`` says what, where and how to fix it."""


@dataclass(frozen=True)
class SideRun:
    """One pytest run of one side in one round: scenario name -> its requests."""

    side: str
    round: int
    seconds: float
    scenarios: Mapping[str, tuple[RequestRecord, ...]]
    environment: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ABResult:
    """What an A/B run found: verdicts per scenario, and the runs behind them."""

    ref: str
    sha: str
    #: rounds measured
    rounds: int
    #: the most rounds it could have run: the sequential cap, or the fixed number
    max_rounds: int = 0
    #: why the rounds stopped, one of :data:`STOPPED`
    stopped: str = "fixed"
    #: at a sequential A/B's last look, the verdicts more rounds could still have changed
    undecided: list[Verdict] = field(default_factory=list)
    runs: list[SideRun] = field(default_factory=list)
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: with ``--ragcost-profile``: side -> scenario -> its stage profiles over all rounds
    profiles: dict[str, dict[str, ScenarioProfile]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(v.status == "FAIL" for vs in self.verdicts.values() for v in vs)

    @property
    def exit_code(self) -> int:
        """pytest's convention: 1 when a verdict fails, 0 otherwise."""
        return 1 if self.failed or self.problems else 0

    def outcomes(self) -> list[Outcome]:
        """One Outcome per scenario (head's last run and the A/B verdicts), for reports."""
        last_head = next((r for r in reversed(self.runs) if r.side == "head"), None)
        out = []
        for scenario, verdicts in sorted(self.verdicts.items()):
            requests = last_head.scenarios.get(scenario, ()) if last_head else ()
            out.append(Outcome(run=ScenarioRun(scenario, "", tuple(requests)),
                               verdicts=list(verdicts)))
        return out

    def to_dict(self) -> dict[str, Any]:
        from .report.verdicts import sentence
        from .run.codec import encode_request, encode_verdict

        return {
            "schema_version": 1,
            "kind": "ab",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "ref": self.ref,
            "sha": self.sha,
            "rounds": self.rounds,
            "max_rounds": self.max_rounds or self.rounds,
            "stopped": self.stopped,
            "runs": [
                {"side": r.side, "round": r.round, "seconds": round(r.seconds, 3),
                 "scenarios": {sc: [encode_request(q) for q in reqs]
                               for sc, reqs in r.scenarios.items()}}
                for r in self.runs
            ],
            "verdicts": {sc: [encode_verdict(v, sentence) for v in vs]
                         for sc, vs in self.verdicts.items()},
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- git


def _git(args: Sequence[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        msg = "git is not installed; same-job A/B checks the base ref out with git"
        raise ABError(msg) from None
    if done.returncode != 0:
        raise ABError(f"git {' '.join(args)} (in {cwd}) failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve_ref(ref: str, cwd: Path) -> tuple[Path, str]:
    """The repository's top directory and the commit ``ref`` names; ABError if none."""
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], cwd))
    except ABError:
        raise ABError(f"{cwd} is not inside a git repository; same-job A/B needs one") from None
    try:
        sha = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
    except ABError:
        sha = ""
    if not sha:
        msg = (
            f"--ragcost-ab: {ref!r} is not a commit in {top} (expected a branch, tag or sha, "
            "e.g. origin/main; in CI fetch it first: git fetch origin main)"
        )
        raise ABError(msg)
    return top, sha


class ABInterrupted(KeyboardInterrupt):
    """The A/B run was stopped by a signal (Ctrl-C, a cancelled CI job's SIGTERM, a closed
    terminal's SIGHUP); the base worktree has been removed by then."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def line(self) -> str:
        """The one line to print for it."""
        return (f"ragcost ab: interrupted by {signal.Signals(self.signum).name}; the base "
                "worktree was removed, nothing was written")


#: the signals that stop an A/B run the way Ctrl-C does
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """While inside, SIGINT, SIGTERM and SIGHUP raise :class:`ABInterrupted`, so every
    ``finally`` (the worktree's removal, a running side's kill) runs as on Ctrl-C; SIGTERM
    and SIGHUP would otherwise end the process on the spot. Outside the main thread,
    where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise ABInterrupted(signum)

    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, stop)
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore the stop signals while cleaning up: a second Ctrl-C must not leave the
    worktree half removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def base_checkout(top: Path, sha: str) -> Any:
    """A detached worktree of ``sha`` in a temporary directory, removed (and pruned from
    the repository's worktree list) afterwards, also when a signal stops the run."""
    tmp = Path(tempfile.mkdtemp(prefix="ragcost-ab-"))
    tree = tmp / "base"
    try:
        _git(["worktree", "add", "--detach", "--quiet", str(tree), sha], top)
        yield tree
    finally:
        with _signals_held():
            with contextlib.suppress(ABError):
                _git(["worktree", "remove", "--force", str(tree)], top)
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(ABError):
                _git(["worktree", "prune"], top)


# --------------------------------------------------------------------------- runs


def strip_outer_options(args: Sequence[str]) -> list[str]:
    """``args`` without the options that belong to the outer A/B command."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name == _PROFILE_FLAG:  # an optional value: the next word is its only if valid
            skip = arg == name and i + 1 < len(args) and args[i + 1] in _PROFILE_VALUES
            continue
        if name in _OUTER_OPTIONS:
            skip = "=" not in arg
            continue
        if arg == "--ragcost":
            continue
        out.append(arg)
    return out


def load_side(path: Path, side: str, rnd: int, seconds: float = 0.0) -> SideRun:
    """One side's run from its ``--ragcost-json`` file (for re-using measured runs with
    :func:`compare`)."""
    from .run.codec import RunFileError, read_run

    try:
        run = read_run(path)
    except RunFileError as exc:
        raise ABError(f"the {side} run of round {rnd} wrote no usable JSON ({exc})") from None
    scenarios = {o.run.scenario: o.run.requests for o in run.outcomes if o.run.requests}
    return SideRun(side, rnd, seconds, scenarios, dict(run.environment))


def run_side(
    side: str,
    rnd: int,
    cwd: Path,
    checkout: Path,
    pytest_args: Sequence[str],
    workdir: Path,
    python: str = sys.executable,
) -> SideRun:
    """One metered pytest run of one side; its requests per scenario."""
    out = workdir / f"{side}-{rnd}.json"
    # a side's own gate decides nothing, so a failing side is never measured twice
    cmd = [python, "-m", "pytest", "--ragcost", f"--ragcost-json={out}", *pytest_args,
           "--ragcost-second-look=0"]
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env.update(RAGCOST_AB_SIDE=side, RAGCOST_AB_ROUND=str(rnd), RAGCOST_AB_ROOT=str(checkout))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode not in _USABLE_EXIT or not out.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        msg = (
            f"the {side} run of round {rnd} (in {cwd}) ended with exit code "
            f"{done.returncode}:\n{tail}"
        )
        raise ABError(msg)
    return load_side(out, side, rnd, seconds)


def run_ab(
    ref: str,
    *,
    rounds: int | None = None,
    pytest_args: Sequence[str] = (),
    cwd: Path | None = None,
    config: Path | None = None,
    python: str = sys.executable,
    log: Callable[[str], None] = lambda line: None,
) -> ABResult:
    """Run base (``ref``) and head (``cwd``) in alternating rounds and compare: until the
    verdicts decide or :data:`DEFAULT_MAX_ROUNDS` (sequential, the default), or exactly
    ``rounds`` rounds when given.

    ``config`` is head's ragcost.yaml (tolerances, severities and which keys are gated;
    default ``ragcost.yaml`` in ``cwd``). Raises :class:`ABError` for a bad ref or a side
    that could not run.
    """
    if rounds is not None and rounds < 2:
        msg = (
            f"--ragcost-ab-rounds must be at least 2 (got {rounds}): the spread of the "
            "rounds is the noise"
        )
        raise ABError(msg)
    here = (cwd or Path.cwd()).resolve()
    top, sha = resolve_ref(ref, here)
    rel = here.relative_to(top.resolve())
    args = strip_outer_options(pytest_args)
    profiling = _profiling(pytest_args)
    if profiling:
        args.append(f"{_PROFILE_FLAG}=all")
    # read before any round runs: a broken ragcost.yaml costs no rounds
    budget = _load_budget(config or here / "ragcost.yaml")
    cap = rounds if rounds is not None else DEFAULT_MAX_ROUNDS
    planned = {look.rounds: look for look in looks(cap)} if rounds is None else {}
    result = ABResult(ref=ref, sha=sha, rounds=0, max_rounds=cap,
                      stopped="fixed" if rounds is not None else "cap")
    with stopped_by_signals(), base_checkout(top, sha) as tree, \
            tempfile.TemporaryDirectory(prefix="ragcost-ab-") as w:
        base_cwd = tree / rel
        if not base_cwd.is_dir():
            raise ABError(f"{ref} ({sha[:12]}) has no directory {rel}; nothing to run there")
        for rnd in range(1, cap + 1):
            order = [("base", base_cwd, tree), ("head", here, top)]
            if rnd % 2 == 0:
                order.reverse()
            took = []
            for side, where, checkout in order:
                run = run_side(side, rnd, where, checkout, args, Path(w), python)
                result.runs.append(run)
                took.append(f"{side} {run.seconds:.1f}s")
            result.rounds = rnd
            of = f"{rnd}/{cap}" if rounds is not None else f"{rnd} of at most {cap}"
            log(f"ragcost ab: round {of}: {', '.join(took)}")
            look = planned.get(rnd)
            if look is None:
                continue
            judged = _judged(result.runs, budget, look)
            result.verdicts = {sc: worst(v for v, _ in pairs) for sc, pairs in judged.items()}
            if _settled(judged):
                result.stopped = "decided"
                break
            if rnd >= NO_RISE_FROM and not look.last and _no_rise(
                    _judged(result.runs, budget)):
                result.stopped = "no_rise"
                break
            if look.last:
                result.undecided = [v for pairs in judged.values() for v, rule in pairs
                                    if not decided(v, rule)]
        if profiling:
            result.profiles = _side_profiles(Path(w), result.rounds, result.problems)
    if rounds is not None:
        result.verdicts = compare(result.runs, budget)
    return result


def _settled(judged: Mapping[str, Sequence[tuple[Verdict, Rule]]]) -> bool:
    """Can more rounds no longer change the outcome? A failed metric fails the run
    whatever the others say; else every metric must be decided."""
    pairs = [pair for scenario in judged.values() for pair in scenario]
    if any(v.status == "FAIL" for v, _ in pairs):
        return True
    return all(decided(v, rule) for v, rule in pairs)


def _no_rise(judged: Mapping[str, Sequence[tuple[Verdict, Rule]]]) -> bool:
    """Does no metric rise, judged at the rule's own levels (what the fixed design would
    say after these rounds)? Then nothing fails now, and no interval lies wholly on the
    worse side of no change.

    Stopping here never fails anything, so it adds no false failure (a non-binding
    futility stop spends no error). What it gives up is a rise the fixed design could not
    have told either: the fixed design fails only when its interval lies past the
    tolerance, which is on the worse side of no change. Without it, unchanged code whose
    round-to-round noise is wide against the tolerance ran to the cap of 12 rounds, twice
    the fixed design's cost, for a PASS the fixed design gave at 6.

    Looking from round 4 rather than 6 gives up a rise only when the interval of 4 rounds
    still reaches below no change (the estimate under 1.18 round deviations) while the
    fixed design's 6 rounds, four of them the same rounds, put the estimate past the
    tolerance plus 0.82 deviations: rare unless the tolerance is small against the noise,
    where the fixed design itself is a coin toss."""
    for pairs in judged.values():
        for verdict, rule in pairs:
            if verdict.status == "FAIL":
                return False
            if verdict.interval is None:
                continue
            low, high = verdict.interval
            if (high < 0) if rule.higher_is_better else (low > 0):
                return False
    return True


def _profiling(args: Sequence[str]) -> bool:
    """Did the outer command ask for profiles (``--ragcost-profile[=failed|all]``)?"""
    on = False
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name == _PROFILE_FLAG:
            if not value and i + 1 < len(args) and args[i + 1] in _PROFILE_VALUES:
                value = args[i + 1]
            on = value != "off"
    return on


def _side_profiles(workdir: Path, rounds: int,
                   problems: list[str]) -> dict[str, dict[str, ScenarioProfile]]:
    """Each side's profiles (written beside its JSON), merged over the rounds."""
    from .profile import merge
    from .profile.formats import profile_dir, read_dir

    out: dict[str, dict[str, ScenarioProfile]] = {}
    for side in ("base", "head"):
        by_scenario: dict[str, list[ScenarioProfile]] = {}
        for rnd in range(1, rounds + 1):
            found, bad = read_dir(profile_dir(workdir / f"{side}-{rnd}.json"))
            problems.extend(bad)
            for p in found:
                by_scenario.setdefault(p.scenario, []).append(p)
        merged = {name: merge(ps) for name, ps in by_scenario.items()}
        out[side] = {name: p for name, p in merged.items() if p is not None}
    return out


# --------------------------------------------------------------------------- comparison


def _load_budget(path: Path) -> Any:
    from .budget import BudgetError, load

    if not path.exists():
        return None
    try:
        return load(path)
    except BudgetError as exc:
        raise ABError(str(exc)) from None


def _keys(scenario: str, budget: Any, head: Sequence[RequestRecord]) -> list[tuple[str, Any]]:
    """(key, entry or None) pairs to compare: the scenario's cost entries, else defaults."""
    entries = budget.scenarios.get(scenario) if budget is not None else None
    if entries is not None:
        return [
            (key, entry)
            for key, entry in entries.entries.items()
            if metric_class(split_key(key)[1]) in ("exact", "noisy", "derived")
        ]
    from .compare.evaluate import default_keys

    return [(key, None) for key in default_keys(ScenarioRun(scenario, "", tuple(head)))]


def _source(requests: Sequence[RequestRecord], key: str) -> str | None:
    for req in requests:
        src = req.flat_sources().get(key)
        if src is not None:
            return src
    return None


def compare(runs: Sequence[SideRun], budget: Any = None,
            look: Look | None = None) -> dict[str, list[Verdict]]:
    """Verdicts per scenario from alternating runs: noisy metrics paired by round and item,
    exact metrics item by item (see the module doc); at ``look``'s levels when given."""
    return {scenario: worst(v for v, _ in pairs)
            for scenario, pairs in _judged(runs, budget, look).items()}


def _judged(runs: Sequence[SideRun], budget: Any = None,
            look: Look | None = None) -> dict[str, list[tuple[Verdict, Rule]]]:
    """Each scenario's verdicts with the rule that judged them; at ``look``'s levels when
    given (a sequential A/B's look), else at the rule's own."""
    from .compare.evaluate import DEFAULT_TOLERANCE, comparable_source

    by_round: dict[int, dict[str, SideRun]] = {}
    for run in runs:
        by_round.setdefault(run.round, {})[run.side] = run
    complete = [r for r in sorted(by_round) if {"base", "head"} <= set(by_round[r])]
    if not complete:
        return {}
    last = by_round[complete[-1]]
    scenarios = sorted(set(last["head"].scenarios) & set(last["base"].scenarios))
    default_tol = getattr(getattr(budget, "defaults", None), "tolerance", None) or DEFAULT_TOLERANCE
    out: dict[str, list[tuple[Verdict, Rule]]] = {}
    for scenario in scenarios:
        head_last = last["head"].scenarios[scenario]
        base_last = last["base"].scenarios[scenario]
        verdicts: list[tuple[Verdict, Rule]] = []
        for key, entry in _keys(scenario, budget, head_last):
            metric = split_key(key)[1]
            kind = metric_class(metric)
            # `severity: warn` on a time or energy entry says a stored baseline from another
            # run cannot be trusted on a shared machine; here both sides share the machine
            rule = Rule(
                kind=kind,
                tolerance=(entry.tolerance if entry is not None else None) or default_tol,
                severity=(entry.severity if entry is not None else "fail")
                if kind in ("exact", "derived") else "fail",
                stat=entry.stat if entry is not None else "mean",
            )
            if look is not None:
                rule = look_rule(rule, look)
            cur_src, base_src = _source(head_last, key), _source(base_last, key)
            if not has_items(head_last) or not has_items(base_last):
                verdicts.append((_unpaired(scenario, key, rule, "no_item_ids"), rule))
                continue
            if kind in ("exact", "derived"):
                ev = items_exact(
                    scenario, key, item_values(base_last, key), item_values(head_last, key),
                    rule.stat, side="base",
                    source=comparable_source(metric, cur_src),
                    baseline_source=comparable_source(metric, base_src),
                )
                verdicts.append((judge(ev, rule), rule))
                continue
            ev_noisy = _rounds_evidence(scenario, key, by_round, complete, rule.stat,
                                        cur_src, base_src)
            verdicts.append((judge(ev_noisy, rule) if ev_noisy is not None
                             else _unpaired(scenario, key, rule, "nothing_to_pair"), rule))
        if verdicts:
            out[scenario] = verdicts
    return out


def _unpaired(scenario: str, key: str, rule: Rule, reason: str) -> Verdict:
    return Verdict(scenario, key, "INCOMPARABLE", reason, (Finding("INCOMPARABLE", reason),),
                   tolerance=str(rule.tolerance), stat=rule.stat, basis="rounds")


def _rounds_evidence(
    scenario: str,
    key: str,
    by_round: Mapping[int, Mapping[str, SideRun]],
    complete: Sequence[int],
    stat: Any,
    cur_src: str | None,
    base_src: str | None,
) -> Evidence | None:
    """A noisy metric's evidence from the rounds: each round's mean log ratio over the
    items both sides ran, then the one paired estimator over rounds."""
    round_logs: list[float] = []
    items = 0
    base_stats: list[float] = []
    for rnd in complete:
        head = by_round[rnd]["head"].scenarios.get(scenario, ())
        base = by_round[rnd]["base"].scenarios.get(scenario, ())
        hv, bv = item_values(head, key), item_values(base, key)
        shared = shared_items(bv, hv)
        logs = log_ratios((bv.values[i], hv.values[i]) for i in shared)
        if not logs:
            continue
        round_logs.append(math.fsum(logs) / len(logs))
        items = max(items, len(logs))
        base_stats.append(stat_value([bv.values[i] for i in shared], stat))
    change = paired(round_logs, "log")
    if change is None or not base_stats or min(base_stats) <= 0:
        return None
    baseline = math.exp(math.fsum(math.log(b) for b in base_stats) / len(base_stats))
    n = len(round_logs)
    return Evidence(
        scenario, key, current=baseline * math.exp(change.estimate), n=n, stat=stat,
        baseline=baseline, baseline_n=n, change=change, source=cur_src,
        baseline_source=base_src, basis="rounds", rounds=n,
        items=ItemsUsed(shared=items, of=items, side="base"),
    )


# --------------------------------------------------------------------------- outputs


def summary_lines(result: ABResult) -> list[str]:
    """The terminal report: one verdict table per scenario."""
    from .report.terminal import verdict_table
    from .report.verdicts import sentence

    lines = [f"ragcost ab: head against {result.ref} ({result.sha[:12]}), "
             f"{result.rounds} alternating rounds", stop_line(result)]
    for scenario, verdicts in sorted(result.verdicts.items()):
        lines += ["", f"scenario {scenario}", verdict_table(verdicts)]
        for v in verdicts:
            if v.status != "PASS":
                lines.append(f"  {v.status}: {sentence(v)}")
    if not result.verdicts:
        lines.append("no scenario was measured on both sides")
    lines += [f"ragcost ab: {p}" for p in result.problems]
    return lines


def stop_line(result: ABResult) -> str:
    """One line saying how many rounds ran and why they stopped."""
    if result.stopped == "fixed":
        return (f"ragcost ab: ran the {result.rounds} rounds --ragcost-ab-rounds asked for "
                "(no early stop)")
    head = f"ragcost ab: stopped after {result.rounds} of at most {result.max_rounds} rounds: "
    verdicts = [v for vs in result.verdicts.values() for v in vs]
    failed = [v for v in verdicts if v.status == "FAIL"]
    if result.stopped == "decided" and failed:
        return head + f"{_named(failed)} failed, which decides the run"
    if result.stopped == "decided":
        return head + "every metric decided"
    if result.stopped == "no_rise":
        return head + "no metric rose at the fixed design's levels"
    return head + (f"the cap (undecided: {_named(result.undecided)})"
                   if result.undecided else "the cap")


def _named(verdicts: Sequence[Verdict]) -> str:
    names = [f"{v.scenario} {v.key}" for v in verdicts[:3]]
    more = f" and {len(verdicts) - 3} more" if len(verdicts) > 3 else ""
    return ", ".join(names) + more


def write_outputs(result: ABResult, json_path: Path | None, markdown_path: Path | None,
                  html_path: Path | None = None) -> None:
    """The A/B document as JSON, the verdict tables as Markdown (also appended to
    ``$GITHUB_STEP_SUMMARY`` when set) and the HTML report (with ``--ragcost-profile``,
    base and head profiles of each regressed stage side by side). A failed write is
    recorded in ``problems``."""
    from .files import append_step_summary, write_text_atomic
    from .report.markdown import markdown

    md = None
    if markdown_path is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
        md = markdown(result.outcomes(), {}).replace(
            "## ragcost", f"## ragcost A/B against {result.ref} ({result.sha[:12]})", 1
        )
    targets: list[tuple[Path, str]] = []
    if json_path is not None:
        targets.append((json_path, json.dumps(result.to_dict(), indent=2) + "\n"))
    if markdown_path is not None and md is not None:
        targets.append((markdown_path, md))
    if html_path is not None:
        from .profile.diff import regressed
        from .report.html import render

        diffs = regressed(result.verdicts, result.profiles.get("base", {}),
                          result.profiles.get("head", {}))
        try:
            targets.append((html_path, render(
                result.outcomes(), {}, ab_diffs=diffs,
                title=f"A/B against {result.ref} ({result.sha[:12]})")))
        except Exception as exc:  # a renderer that breaks is said, as an unwritable file is
            result.problems.append(f"could not render {html_path}: {type(exc).__name__}: "
                                   f"{exc}")
    for path, text in targets:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
        except OSError as exc:
            result.problems.append(f"could not write {path}: {exc.strerror or exc}")
    if (problem := append_step_summary(md)) is not None:
        result.problems.append(problem)
