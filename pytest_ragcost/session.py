"""The one stateful object of a ``--ragcost`` run.

It probes the meters once, hands out recorders, turns a test's measurements into
verdicts on that test's own report, keeps every scenario's outcome, and at the end
blesses, writes the outputs (:mod:`pytest_ragcost.outputs`) and the history
(:mod:`pytest_ragcost.runhistory`), on the controller only (:mod:`pytest_ragcost.xdist`
carries the workers' results there).

The comparison, the quality layer and the report renderers are imported inside the
methods that first need them: a run pays for what it uses, and a run with no metered
test loads none of them. So are the parts only some runs use: the xdist transport (under
``-n``), JUnit properties (``--junitxml``), stage profiles (``--ragcost-profile``) and the
OpenTelemetry SDK (once a metered test starts, or at the start when spans are exported).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import __version__
from .config import Settings, in_shard
from .environment import GitProbe, complete_environment, fingerprint
from .keys import RECORDER_KEY
from .marker import ScenarioSpec
from .meters.registry import MeterSet, build
from .runhistory import RunHistory

if TYPE_CHECKING:
    from .budget import UpdateResult
    from .compare.evaluate import QualityScores
    from .compare.frontier import Frontier
    from .compare.gate import Gate
    from .export.opentelemetry import SpanBridge
    from .profile.keep import ProfileKeeper
    from .profile.sampler import ScenarioProfile
    from .quality.gate import QualityGate
    from .quality.store import ScoreStore
    from .record.recorder import Recorder
    from .record.tokens import TokenCounter
    from .run import Outcome, ScenarioRun, Verdict
    from .run.model import Recheck, Run, Selection
    from .xdist import Controller, Crash

GATE_PROPERTY = "ragcost.gate"
#: statuses shown as a warning on the test when they do not fail it
WARNED = ("WARN", "INCONCLUSIVE", "INCOMPARABLE", "STALE")
#: a progress line appears once a scenario has run this long, then at most this often
PROGRESS_AFTER_S = 5.0
PROGRESS_EVERY_S = 10.0


class RagcostWarning(UserWarning):
    """A gate finding that does not fail the test: WARN or INCONCLUSIVE (or, without
    --ragcost-strict, INCOMPARABLE)."""


class RagcostSession:
    """Registered as a plugin for the duration of a ``--ragcost`` run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.meters: MeterSet | None = None
        self.environment: dict[str, Any] = {}
        self.gate: Gate | None = None  # the loaded ragcost.yaml, when one is used
        self.quality: QualityGate | None = None  # loaded once a sample needs it
        self.history = RunHistory(settings, self._warn, self._say)
        self.spans: SpanBridge | None = None  # when capturing spans (made on first use)
        self._spans_pending = False  # the SDK is there: the bridge is made by the first test
        self._spans_env: dict[str, str] = {}
        self.outcomes: dict[str, Outcome] = {}
        # what the summary says besides the outcomes
        self.problems: list[str] = []  # suite-level problems (errors)
        self.notes: list[str] = []  # export lines; never fail the run
        self.update_result: UpdateResult | None = None
        self.quality_written: list[str] = []
        self.items_written: list[str] = []
        self.frontiers: list[Frontier] = []
        self._counter: TokenCounter | None = None
        self._gate_pending = False  # no budget file at the start: loaded on first use
        self._git: GitProbe | None = None
        self._xdist: Controller | None = None
        self._ran: set[str] = set()
        self._failed_suite = False  # a suite-level error (two tests claim one scenario)
        self._finished = False
        self._interrupted = False  # Ctrl-C: write nothing
        self._refused = False  # --ragcost-max-usd refused the run before it started
        self._stopped = False  # -x, --maxfail: write what ran, call nothing STALE
        self._complete = False  # the whole suite ran to its end (a missing scenario is STALE)
        # the suite collected (sorted node ids) and the tests selected from it; on an
        # xdist controller both arrive from a worker
        self._suite: list[str] | None = None
        self._selected: list[str] | None = None
        self._selection_done: Selection | None = None
        self._on_worker = hasattr(config, "workerinput")  # an xdist worker
        # JUnit properties are written only into a JUnit XML file (pytest writes none on
        # an xdist worker, but reports carry them to the controller's)
        self._junit = bool(config.getoption("xmlpath", None))
        self._xunit2: bool | None = None  # the JUnit family, read when first needed
        self.profiles: ProfileKeeper | None = None
        if settings.profile is not None:
            # the sampler loads only when --ragcost-profile asks for stage profiles
            from .profile.keep import ProfileKeeper

            self.profiles = ProfileKeeper(settings.profile)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.meters = build(
            self.settings.meters,
            watts_per_thread=self.settings.watts_per_thread,
            watts_source=self.settings.watts_per_thread_source,
            system=self.settings.system,
        )
        # the commit and package versions are read when the run is written, on the
        # controller: git runs beside the tests meanwhile
        self.environment = fingerprint(self.meters)
        workerinput = _worker_input(self.config)
        if workerinput is None:
            self._git = GitProbe(self.config.rootpath)
        text = None
        if workerinput is not None:
            # the transport (and the run codec under it) loads only on xdist's processes
            from .xdist import CONFIG_TEXT, history_of

            text = workerinput.get(CONFIG_TEXT)
        path = self.settings.config_path
        if (
            workerinput is None
            and self.settings.config_explicit
            and self.settings.update is None
            and path is not None
            and not path.exists()
            and not path.is_symlink()
        ):
            self.close()
            msg = (
                f"pytest-ragcost: {path}: no such file (named by --ragcost-config or the "
                "ragcost_config ini option); give the path of an existing budget file, or "
                "create it with --ragcost-update"
            )
            raise pytest.UsageError(msg)
        if text is None and _nothing_to_read(path):
            # no budget file and nothing beside it: every scenario is NEW, and the budget
            # and quality modules load only once a scenario is judged or blessed
            self._gate_pending = True
        else:
            problem = self._load_gate(text)
            if problem is None and workerinput is None and self.gate is not None:
                problem = _check_files(self.gate.path)
            if problem is not None:
                self.close()
                raise pytest.UsageError(f"pytest-ragcost: {problem}")
        if workerinput is not None:
            self.history.runs = history_of(workerinput)
        else:
            self.history.open(self.environment, self.gate)
            if _runs_workers(self.config):
                from .xdist import Controller  # only a run with xdist workers needs it

                self._xdist = Controller(
                    config_text=lambda: self.gate.text if self.gate is not None else None,
                    history=lambda: self.history.runs,
                    keep=self._keep,
                    note=self._note,
                    problem=self._worker_problem,
                    profile=self._receive_profile,
                )
                self.config.pluginmanager.register(self._xdist, "ragcost-xdist")
        if self.settings.judge_mode == "record" and (
            workerinput is not None or self.config.getoption("numprocesses", None)
        ):
            self.close()
            msg = (
                "pytest-ragcost: --ragcost-record-judge writes one judge record and runs "
                "serially; run it without -n"
            )
            raise pytest.UsageError(msg)
        self._start_exports()

    def used_gate(self) -> Gate | None:
        """The loaded ragcost.yaml; loaded here on first use when there was no file at the
        start (a problem loading it then is said in the summary and fails the run)."""
        if self._gate_pending:
            self._gate_pending = False
            if (problem := self._load_gate(None)) is not None:
                self._worker_problem(problem)
        return self.gate

    def _load_gate(self, text: str | None) -> str | None:
        """Load the budget file (or the text the controller sent); returns its problems."""
        # the budget file's reader (ruamel.yaml, the schema) loads only when it is needed
        from .compare.gate import GateError, load_gate

        try:
            self.gate = load_gate(self.settings, self.environment, text=text,
                                  from_worker=_worker_input(self.config))
        except GateError as exc:
            return str(exc)
        return None

    def _start_exports(self) -> None:
        from .export import ExtraMissingError, available, require

        try:
            if self.settings.prometheus is not None:
                require("prometheus_client", "prometheus", "--ragcost-prometheus")
            if self.settings.otel == "on":
                require("opentelemetry.sdk", "otel", "--ragcost-otel=on")
        except ExtraMissingError as exc:
            self.close()
            raise pytest.UsageError(f"pytest-ragcost: {exc}") from None
        if self.settings.otel != "off" and available("opentelemetry.sdk"):
            from .export.otel_env import names_an_exporter

            # the variables as they are now, whenever the bridge is made
            self._spans_env = dict(os.environ)
            if names_an_exporter(self._spans_env):
                self._make_spans()  # ragcost's spans go out: the exporters start now
            else:
                # capture only: the SDK loads when the first metered test starts (the
                # app's tracer provider is looked up as its first request opens anyway)
                self._spans_pending = True

    def _make_spans(self) -> None:
        # the OpenTelemetry SDK loads here, once spans are captured or exported
        from .export.opentelemetry import SpanBridge

        self._spans_pending = False
        self.spans = SpanBridge(self._spans_env)

    def _receive_profile(self, data: dict[str, Any]) -> None:
        """A profile an xdist worker kept (workers keep one only under
        --ragcost-profile, which the controller has too)."""
        if self.profiles is not None:
            self.profiles.receive(data)

    def _warn(self, line: str) -> None:
        with contextlib.suppress(Exception):
            self.config.issue_config_time_warning(RagcostWarning(f"ragcost: {line}"), 3)

    def quality_gate(self) -> QualityGate | None:
        """The quality scorer, loaded on first use (ragas and the score files stay unread
        until a scenario records samples)."""
        gate = self.used_gate()
        if self.quality is None and gate is not None:
            from .quality.gate import QualityGate

            self.quality = QualityGate(gate.path, gate.budget, self.settings.judge_mode)
        return self.quality

    def close(self) -> None:
        if self.meters is not None:
            self.meters.close()
        if self._git is not None:
            self._git.close()
        self.history.close()
        if self._xdist is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                self.config.pluginmanager.unregister(self._xdist)
            self._xdist = None

    @property
    def counter(self) -> TokenCounter:
        if self._counter is None:
            from .record.tokens import default_counter

            self._counter = default_counter()
        return self._counter

    def recorder_for(self, item: pytest.Item, spec: ScenarioSpec) -> Recorder:
        from .record.recorder import Recorder

        knobs, sweep = _knobs(item)
        if self.profiles is not None:
            self.profiles.start(item.nodeid, spec.scenario)
        if self._spans_pending:
            try:
                self._make_spans()
            except Exception as exc:  # capture is a bonus; metering goes on without it
                self._note(f"OpenTelemetry: could not capture spans: {type(exc).__name__}: {exc}")
        return Recorder(
            knobs=knobs,
            sweep=sweep,
            progress=self._progress_line(spec.scenario),
            scenario=spec.scenario,
            nodeid=item.nodeid,
            metering=True,
            meters=self.meters,
            counter=self.counter,
            requests_cap=self.settings.requests,
            marker_requests=spec.requests,
            warmup=spec.warmup,
            marker_load=spec.load,
            spans=self.spans,
        )

    def _say(self, line: str) -> None:
        """Write ``line`` for the person watching now, past pytest's output capture."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            print(line, file=sys.stderr, flush=True)
            return
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        quiet = capman.global_and_fixture_disabled() if capman is not None else None
        with quiet if quiet is not None else contextlib.nullcontext():
            reporter.write_line(line)

    def _progress_line(self, scenario: str) -> Callable[[int, int | None], None] | None:
        """A callback that writes ``ragcost: <scenario>: 40/100 requests, 12 s`` through
        pytest's terminal writer while a long scenario runs (not under -q, not on an xdist
        worker, whose output nobody sees)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or self._on_worker or self.config.get_verbosity() < 0:
            return None
        start = time.monotonic()
        last = [float("-inf")]

        def report(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - start < PROGRESS_AFTER_S or now - last[0] < PROGRESS_EVERY_S:
                return
            last[0] = now
            of = f"/{total}" if total is not None else ""
            line = f"ragcost: {scenario}: {done}{of} requests, {now - start:.0f} s"
            # the test's output is being captured; this line is for the person watching
            capman = self.config.pluginmanager.get_plugin("capturemanager")
            quiet = capman.global_and_fixture_disabled() if capman is not None else None
            with quiet if quiet is not None else contextlib.nullcontext():
                reporter.write_line(line)

        return report

    # -- the header ----------------------------------------------------------------------
    def header_lines(self) -> list[str]:
        assert self.meters is not None
        lines = [f"ragcost: {__version__}, energy: {self.meters.energy_label()}"]
        if self.spans is not None:
            lines.append(f"ragcost: {self.spans.describe()}")
        elif self._spans_pending:
            # what the bridge will say, without loading the SDK for it
            from opentelemetry.sdk.version import __version__ as sdk_version

            from .export.otel_env import header_line

            lines.append(f"ragcost: {header_line(sdk_version, [])}")
        if self.meters.system:
            lines.append(f"ragcost: system: {self.meters.system_label()}")
        for missing in self.meters.unavailable:
            lines.append(f"ragcost: {missing.name} unavailable: {missing.reason}")
        if self.gate is not None:
            lines.append(f"ragcost: {self.gate.header()}")
        elif self._gate_pending:
            # the sentence Gate.header() writes for a missing file, without loading one
            lines.append(
                f"ragcost: config: {self.settings.config_path} (not found: every scenario is "
                "NEW; --ragcost-update writes it)"
            )
        if (history := self.history.header_line()) is not None:
            lines.append(f"ragcost: {history}")
        return lines

    # -- results -------------------------------------------------------------------------
    def _keep(self, outcome: Outcome) -> None:
        """Store a scenario's outcome; two tests claiming one scenario is a suite error
        (collection catches it in a serial run; under xdist only results can show it)."""
        earlier = self.outcomes.get(outcome.run.scenario)
        if earlier is not None and earlier.run.nodeid != outcome.run.nodeid:
            first, second = sorted((earlier.run.nodeid, outcome.run.nodeid))
            problem = (
                f"scenario {outcome.run.scenario!r} is claimed by two tests: {first} and "
                f"{second}; give each its own name"
            )
            if problem not in self.problems:
                self.problems.append(problem)
            self._failed_suite = True
        self.outcomes[outcome.run.scenario] = outcome

    def _worker_problem(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)
            self._failed_suite = True

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- per test ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        recorder = item.stash.get(RECORDER_KEY, None)
        if recorder is None or not recorder.metering:
            self._stop_profile(item.nodeid)
            return report
        if call.when == "setup" and self._on_worker:
            from .xdist import mark_running  # a worker's transport

            mark_running(report, recorder.scenario)
        if call.when != "call":
            if call.when == "teardown":  # a test that never reached its call: no profile
                self._stop_profile(item.nodeid)
            return report
        from .compare.evaluate import evaluate
        from .compare.noise import NoiseBook

        run = recorder.finish()
        profile = self._stop_profile(item.nodeid, len(run.requests))
        scored = self._score(run) if report.passed and run.requests and run.samples else None
        noise = NoiseBook(self.history.runs.get(run.scenario, {}))
        outcome = evaluate(run, self.used_gate(), quality=scored, stored=self._stored(),
                           test_passed=report.passed, noise=noise)
        recheck = self._second_look(item, call, recorder, outcome)
        if recheck is not None:
            run = replace(run, recheck=recheck)
            outcome = evaluate(run, self.used_gate(), quality=scored, stored=self._stored(),
                               test_passed=report.passed, noise=noise)
        if self.spans is not None:
            try:
                # priced by evaluate(): the stage spans carry cost_usd
                self.spans.emit(outcome.run)
            except Exception as exc:  # spans out are a copy; the run goes on without them
                self._note(f"OpenTelemetry: could not emit spans: {type(exc).__name__}: {exc}")
        self._keep(outcome)
        self._apply(item, report, outcome)
        kept = (self.profiles.offer(profile, any(self._fails(v) for v in outcome.verdicts))
                if self.profiles is not None else None)
        if self._on_worker:
            from .xdist import send_outcome, send_profile  # a worker's transport

            # travels now, with the report: a worker that dies later loses nothing of it
            send_outcome(report, outcome)
            if kept is not None:
                send_profile(report, kept.to_dict())
        return report

    def _second_look(self, item: pytest.Item, call: pytest.CallInfo[None],
                     recorder: Recorder, outcome: Outcome) -> Recheck | None:
        """Measure the scenario again when what fails its test is only noisy metrics (a
        second measurement could clear them), if the first took at most the bound."""
        from .compare.evaluate import takes_second_look
        from .run.model import Recheck

        limit = self.settings.second_look_s
        failing = [v for v in outcome.verdicts if self._fails(v)]
        if limit <= 0 or not failing or not all(takes_second_look(v) for v in failing):
            return None
        if outcome.run.load is not None:
            return Recheck(skipped="a load level is not measured again")
        if call.duration > limit:
            return Recheck(skipped=(
                f"the first measurement took {call.duration:.0f} s, more than the "
                f"{limit:g} s a second look may take (--ragcost-second-look)"))
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        started = time.perf_counter()
        try:
            recorder.restart()
            with (capture.item_capture("call", item) if capture is not None
                  else contextlib.nullcontext()):
                item.runtest()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # also pytest.skip, fail and xfail raised in the body
            # the first measurement stands; the verdict says why there is no second
            return Recheck(seconds=time.perf_counter() - started,
                           skipped=f"the test raised when run again: {type(exc).__name__}: {exc}")
        again = recorder.finish()
        return Recheck(requests=again.requests, seconds=time.perf_counter() - started)

    def _stop_profile(self, nodeid: str, requests: int = 0) -> ScenarioProfile | None:
        if self.profiles is None:
            return None
        return self.profiles.stop(nodeid, requests)

    def _junit_family_xunit2(self) -> bool:
        if self._xunit2 is None:
            from .junit import is_xunit2  # only with --junitxml

            self._xunit2 = is_xunit2(self.config)
        return self._xunit2

    def _score(self, run: ScenarioRun) -> QualityScores | None:
        from .compare.evaluate import QUALITY_LAYER, QualityScores

        try:
            quality = self.quality_gate()
            return quality.score(run) if quality is not None else None
        except Exception as exc:  # a broken score file or record: said, not raised
            return QualityScores(errors={QUALITY_LAYER: f"{type(exc).__name__}: {exc}"})

    def _stored(self) -> ScoreStore | None:
        return self.quality.store if self.quality is not None else None

    def _apply(self, item: pytest.Item, report: pytest.TestReport, outcome: Outcome) -> None:
        from .compare.evaluate import FAILURE_WORDS, failure_word
        from .report.terminal import failure_text
        from .report.verdicts import sentence

        run = outcome.run
        if self._junit and not self._junit_family_xunit2():
            from .junit import properties as junit_properties  # only with --junitxml

            properties = list(junit_properties(outcome))
            # on the item too: JUnit XML reads the properties of the teardown report
            item.user_properties.extend(properties)
            report.user_properties.extend(properties)
        # (xunit2 forbids <properties> in a <testcase>: they go on the test suite at the end)
        if self.settings.update is None:
            for verdict in outcome.verdicts:
                if verdict.status in WARNED and not self._fails(verdict):
                    text = f"{run.scenario}: {verdict.status}: {sentence(verdict)}"
                    item.warn(RagcostWarning(text))
        failing = [v for v in outcome.verdicts if self._fails(v)]
        if failing and report.passed:
            word = failure_word(failing)
            report.outcome = "failed"
            report.longrepr = failure_text(run, failing, word, FAILURE_WORDS[word])
            report.user_properties.append((GATE_PROPERTY, word))

    def _fails(self, verdict: Verdict) -> bool:
        from .compare.evaluate import fails

        if self.settings.update is not None:
            return False  # the run that blesses does not fail on the old baselines
        return fails(verdict, strict=self.settings.strict)

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.when != "call" or not report.failed:
            return None
        for name, value in report.user_properties:
            if name == GATE_PROPERTY and isinstance(value, str):
                from .compare.evaluate import FAILURE_WORDS

                if value in FAILURE_WORDS:
                    return "failed", "C", (value, {"red": True})
        return None

    # -- pytest-benchmark, side by side -----------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        bench = pyfuncitem.funcargs.get("benchmark") if hasattr(pyfuncitem, "funcargs") else None
        tap = None
        if bench is not None and self.meters is not None:
            from .bench import BenchmarkTap

            tap = BenchmarkTap.attach(bench, self.meters)
        try:
            return (yield)
        finally:
            if tap is not None:
                recorder = pyfuncitem.stash.get(RECORDER_KEY, None)
                tap.finish(recorder)

    # -- the selection ----------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        # before -k, -m and --deselect narrow the list: the suite; after: the slice
        suite = sorted(item.nodeid for item in items)
        result = yield
        if self.settings.shard is not None:
            mine = in_shard([item.nodeid for item in items], self.settings.shard)
            dropped = [item for item, kept in zip(items, mine, strict=True) if not kept]
            items[:] = [item for item, kept in zip(items, mine, strict=True) if kept]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
        if not (
            config.getoption("lf", False)
            or config.getoption("stepwise", False)
            or any("::" in str(arg) for arg in config.args)
        ):
            # node ids, --lf and --sw narrow the collection itself: no whole suite then
            self._suite = suite
        return result

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self._suite is None:
            return
        self._selected = sorted(item.nodeid for item in session.items)
        if self._on_worker:
            from .xdist import send_selection  # a worker's transport

            send_selection(self.config, self._suite, self._selected)

    def _selection(self, ran_all: bool) -> Selection | None:
        """Which tests ran out of which suite, for the run file (``ragcost merge``)."""
        if self._xdist is not None and self._xdist.selection is not None:
            self._suite, self._selected = self._xdist.selection
        if self._suite is None or self._selected is None:
            return None
        # the run's records load once a run is written
        from .run.model import Selection

        digest = hashlib.sha256("\n".join(self._suite).encode("utf-8")).hexdigest()
        return Selection(
            suite_sha256=digest, suite_size=len(self._suite), tests=tuple(self._selected),
            ran_all=ran_all and self._ran.issuperset(self._selected),
        )

    # -- the end of the run ----------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # Finishing here, not in pytest_sessionfinish, lets a failed bless or an unwritable
        # output still change the exit code (pytest computes it right after this loop).
        try:
            return (yield)
        except (KeyboardInterrupt, pytest.exit.Exception):
            # Ctrl-C (or pytest.exit): the run is not finished, so nothing is written: a
            # bless of half a suite, or a report of it, would pass for the whole one.
            # -x and --maxfail are normal stops: what ran is complete and is reported.
            self._interrupted = True
            raise
        except BaseException:
            self._stopped = True
            raise
        finally:
            self._finish(session)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self._ran.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._finish(session)

    def refuse(self) -> None:
        """The run was refused before any test ran (``--ragcost-max-usd``): it writes
        nothing, no history row, no output file, no STALE verdicts, and says nothing."""
        self._refused = True

    def _finish(self, session: pytest.Session) -> None:
        if self._finished:
            return
        self._finished = True
        if self._refused:
            return
        if self.spans is not None:
            for note in self.spans.shutdown():
                self._note(note)
        if self._on_worker:
            from .xdist import send_notes  # a worker's transport

            send_notes(self.config, self.notes, self.problems)
            return
        if self._failed_suite:
            session.testsfailed += 1
        if self._interrupted:
            self.problems.append(
                "interrupted: nothing written"
                + (f" ({self.settings.config_path} unchanged)"
                   if self.settings.update is not None and self.settings.config_path is not None
                   else "")
                + "; run the whole session to bless or report"
            )
            return
        crashes = self._xdist.crashes if self._xdist is not None else []
        for crash in crashes:
            self.problems.append(crash.line())
        ran_all = (
            not crashes
            and not self._stopped
            and not session.shouldstop
            and not session.shouldfail
            and len(self._ran) >= session.testscollected
        )
        self._selection_done = self._selection(ran_all)
        complete = (
            ran_all
            and _ran_everything(session)
            and (self._selection_done is None or self._selection_done.covers_suite)
        )
        self._complete = complete
        complete_environment(self.environment, self._git)
        if self.settings.update is not None:
            self.used_gate()  # a bless writes the file even when none was there
        if self._junit and self._junit_family_xunit2():
            from .junit import add_suite_properties  # only with --junitxml

            add_suite_properties(self.config, self.outcomes.values())
        if self.gate is not None:
            self._add_stale(session, complete)
            if self.settings.update is not None:
                self._bless(session)
                self._not_blessed(session, crashes)
        from .outputs import finished_run

        # one record of the run: the JSON file and the history's row are the same run
        run = finished_run(
            list(self.outcomes.values()), self.environment, self.settings, self.gate,
            complete=self._complete, selection=self._selection_done,
            xdist_workers=self._xdist.workers if self._xdist is not None else 0,
        )
        self._write_outputs(session, run)
        self.history.record(run, self.gate)

    def _add_stale(self, session: pytest.Session, complete: bool) -> None:
        """Scenarios of ragcost.yaml no test ran, after a run of the whole suite."""
        if not complete:
            return
        from .compare.evaluate import stale_scenarios
        from .run import Outcome, ScenarioRun

        assert self.gate is not None
        stale = stale_scenarios(self.gate, self.outcomes)
        for verdict in stale:
            self.outcomes.setdefault(
                verdict.scenario, Outcome(run=ScenarioRun(verdict.scenario, "", ()))
            ).verdicts.append(verdict)
        if self.settings.strict and stale and self.settings.update is None:
            session.testsfailed += 1

    def _bless(self, session: pytest.Session) -> None:
        from .compare.bless import bless

        assert self.gate is not None
        assert self.settings.update is not None
        try:
            result = bless(list(self.outcomes.values()), self.gate, mode=self.settings.update)
        except Exception as exc:  # reported, never a traceback
            self.problems.append(f"could not update {self.gate.path}: {exc}")
            session.testsfailed += 1
            return
        self.update_result = result.update
        self.quality_written = list(result.quality_written)
        self.items_written = list(result.items_written)

    def _not_blessed(self, session: pytest.Session, crashes: list[Crash]) -> None:
        """A bless never skips silently: what a crashed worker lost is named, and fails the
        run."""
        assert self.gate is not None
        lines = [line for crash in crashes
                 if (line := crash.not_blessed(self.gate.path.name)) is not None]
        self.problems.extend(lines)
        if lines:
            session.testsfailed += 1

    def _write_outputs(self, session: pytest.Session, run: Run) -> None:
        from .outputs import write_outputs

        written = write_outputs(
            run, self.settings, self.gate,
            profiles=self.profiles.kept if self.profiles is not None else None,
            history=self.history.trend(self.environment, [o.run.scenario for o in
                                                          self.outcomes.values()])
            if self.settings.html_path is not None else (),
        )
        self.frontiers = written.frontiers
        self.problems.extend(written.problems)
        profile_notes = (self.profiles.write(self.settings.json_path, self.settings.html_path,
                                             self.config.rootpath)
                         if self.profiles is not None else [])
        for note in [*written.notes, *profile_notes]:
            self._note(note)
        session.testsfailed += written.failed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._on_worker or self._refused:
            return
        from .report.terminal import summary_lines

        try:
            lines = summary_lines(
                list(self.outcomes.values()), self.meters, self.update_result, self.problems,
                verbose=self.config.get_verbosity() > 0,
                quiet=self.config.get_verbosity() < 0,
                frontiers=self.frontiers,
            )
        except Exception as exc:
            lines = [f"ragcost: could not render the summary: {type(exc).__name__}: {exc}"]
        lines.extend(f"ragcost warning: {line}" for line in self.history.lines)
        lines.extend(f"ragcost: {note}" for note in self.notes)
        if self.items_written and self.gate is not None:
            from .budget.items import items_path

            lines.append(
                f"ragcost: stored per-item baselines beside the config in "
                f"{items_path(self.gate.path).name}: " + ", ".join(self.items_written)
            )
        if self.quality_written:
            lines.append(
                f"ragcost: stored per-sample baseline scores of {len(self.quality_written)} "
                "quality metric(s) beside the config: " + ", ".join(self.quality_written)
            )
        if not lines:
            return
        terminalreporter.section("ragcost")
        for line in lines:
            terminalreporter.write_line(line)


def _worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """What the xdist controller sent this worker, or None on the controller (or without
    xdist)."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return workerinput


def _runs_workers(config: pytest.Config) -> bool:
    """True when this process is an xdist controller that will start workers: xdist
    starts them for a distribution mode with test environments (``-n``, ``--dist``,
    ``--tx``) unless only collecting."""
    return (
        config.getoption("dist", "no") != "no"
        and bool(config.getoption("tx", None))
        and not config.getoption("collectonly", False)
    )


def _knobs(item: pytest.Item) -> tuple[dict[str, Any], str | None]:
    """A parametrized test's parameters (its configuration) and the sweep it belongs to.

    Values other than JSON scalars are kept as their ``repr`` so the record stays JSON.
    """
    callspec = getattr(item, "callspec", None)
    if callspec is None or not callspec.params:
        return {}, None
    knobs: dict[str, Any] = {}
    for name, value in callspec.params.items():
        ok = value is None or isinstance(value, str | int | float | bool)
        knobs[name] = value if ok else repr(value)
    return knobs, item.nodeid.split("[", 1)[0]


def _ran_everything(session: pytest.Session) -> bool:
    """True when no -k/-m/node-id selection narrowed the run (STALE means something then)."""
    config = session.config
    if config.getoption("keyword", "") or config.getoption("markexpr", ""):
        return False
    args = [a for a in config.args if a]
    return all("::" not in a for a in args) and not config.getoption("lf", False)


def _nothing_to_read(path: Path | None) -> bool:
    """No budget file at ``path`` (not even a dangling link) and none of the files kept
    beside it (per-item baselines, stored scores, the judge record)."""
    if path is None:
        return False
    # the names budget/items.py and quality/gate.py give the files beside the budget file
    beside = (path, *(path.with_name(f"{path.stem}.{kind}.json")
                      for kind in ("items", "scores", "judge")))
    return not any(os.path.lexists(p) for p in beside)


def _check_files(config_path: Path) -> str | None:
    """The problem of a broken score store or judge record beside the budget file, read
    at the start so it stops the run named instead of making every quality metric
    UNMEASURED."""
    from .inputs import InputError
    from .quality.gate import check_files

    try:
        check_files(config_path)
    except InputError as exc:
        return str(exc)
    return None
