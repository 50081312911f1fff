"""The one stateful object of a ``--ragcost`` run.

It probes the meters once, hands out recorders, turns a test's measurements into
verdicts on that test's own report, collects results (also from pytest-xdist workers,
through ``workeroutput``), and writes the outputs on the controller only.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import __version__
from .config import Settings
from .files import append_step_summary
from .keys import RECORDER_KEY
from .marker import ScenarioSpec
from .meters.registry import MeterSet, build
from .models import Outcome, ScenarioRun, Verdict
from .record.recorder import Recorder

if TYPE_CHECKING:
    from .budget import UpdateResult
    from .compare.evaluate import QualityScores
    from .compare.gate import Gate
    from .quality.gate import QualityGate
    from .quality.store import ScoreStore
    from .record.tokens import TokenCounter

GATE_PROPERTY = "ragcost.gate"
#: statuses shown as a warning on the test when they do not fail it
WARNED = ("WARN", "INCONCLUSIVE", "INCOMPARABLE", "STALE")
#: a progress line appears once a scenario has run this long, then at most this often
PROGRESS_AFTER_S = 5.0
PROGRESS_EVERY_S = 10.0


class RagcostWarning(UserWarning):
    """A gate finding that does not fail the test: WARN or INCONCLUSIVE (or, without
    --ragcost-strict, INCOMPARABLE)."""


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class RagcostSession:
    """Registered as a plugin for the duration of a ``--ragcost`` run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.meters: MeterSet | None = None
        self.outcomes: dict[str, Outcome] = {}
        self._counter: TokenCounter | None = None
        self.environment: dict[str, Any] = {}
        self.gate: Gate | None = None  # the loaded ragcost.yaml, when one is used
        self.quality: QualityGate | None = None  # loaded once a sample needs it
        self.update_result: UpdateResult | None = None
        self.problems: list[str] = []  # suite-level problems shown in the summary
        self._finished = False
        self._interrupted = False  # Ctrl-C: write nothing
        self._stopped = False  # -x, --maxfail: write what ran, call nothing STALE
        self._ran: set[str] = set()
        self._complete = False  # the whole suite ran to its end (a missing scenario is STALE)
        self._duplicates = False
        self.quality_written: list[str] = []
        self.history: Any = None  # history.Store on the controller, when the history is on
        #: scenario -> metric key -> stat -> earlier runs' summaries (stats.RunSummary)
        self.history_runs: dict[str, Any] = {}
        self.history_lines: list[str] = []  # said in the summary (never fails the run)
        self.spans: Any = None  # export.opentelemetry.SpanBridge, when capturing spans
        self.notes: list[str] = []  # export lines shown in the summary; never fail the run
        self.items_written: list[str] = []
        self.frontiers: list[Any] = []  # frontier.Frontier of each sweep, at the end
        try:
            self._xunit2 = str(config.getini("junit_family")) == "xunit2"
        except ValueError:  # -p no:junitxml
            self._xunit2 = False
        self._xdist_nodes = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        from .compare.gate import GateError, load_gate
        from .environment import fingerprint

        self.meters = build(
            self.settings.meters,
            watts_per_thread=self.settings.watts_per_thread,
            watts_source=self.settings.watts_per_thread_source,
        )
        self.environment = fingerprint(self.meters, self.config.rootpath)
        workerinput = getattr(self.config, "workerinput", None)
        text = workerinput.get("ragcost_config_text") if workerinput is not None else None
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
        try:
            self.gate = load_gate(
                self.settings, self.environment, text=text, from_worker=workerinput
            )
        except GateError as exc:
            self.close()
            raise pytest.UsageError(f"pytest-ragcost: {exc}") from None
        if workerinput is not None:
            self.history_runs = _runs_from_json(workerinput.get("ragcost_history") or "{}")
        else:
            self._open_history()
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
            from .export.opentelemetry import SpanBridge

            self.spans = SpanBridge()

    def _open_history(self) -> None:
        """Open the history and read earlier runs on this machine; a failing store is said
        (a warning) and the run goes on without it, gated on the prior."""
        if self.settings.history is None:
            return
        if os.environ.get("RAGCOST_AB_SIDE"):
            return  # a side of a same-job A/B (ab.py): its runs are not this tree's history
        from .history import open_store

        try:
            self.history = open_store(self.settings.history, Path(self.settings.history))
            env_id = str(self.environment.get("id"))
            self.history_runs = self.history.summaries(env_id)
        except Exception as exc:
            self._history_failed("not read", exc)

    def _history_failed(self, what: str, exc: BaseException) -> None:
        from .history import HistoryError
        from .redact import redact_text, secrets_in

        text = str(exc) if isinstance(exc, HistoryError) else f"{type(exc).__name__}: {exc}"
        # a driver's message may quote the URL, password and all
        text = redact_text(text, secrets_in(self.settings.history))
        line = (
            f"history {what}: {text}; noisy metrics are gated on the prior "
            "(--ragcost-history=none turns the history off)"
        )
        self.history_lines.append(line)
        if self.history is not None:
            with contextlib.suppress(Exception):
                self.history.close()
            self.history = None
        with contextlib.suppress(Exception):
            self.config.issue_config_time_warning(RagcostWarning(f"ragcost: {line}"), 3)

    def quality_gate(self) -> QualityGate | None:
        """The quality scorer, loaded on first use (ragas and the score files stay unread
        until a scenario records samples)."""
        if self.quality is None and self.gate is not None:
            from .quality.gate import QualityGate

            self.quality = QualityGate(self.gate.path, self.gate.budget, self.settings.judge_mode)
        return self.quality

    def close(self) -> None:
        if self.meters is not None:
            self.meters.close()
        if self.history is not None:
            with contextlib.suppress(Exception):
                self.history.close()
            self.history = None

    @property
    def counter(self) -> TokenCounter:
        if self._counter is None:
            from .record.tokens import default_counter

            self._counter = default_counter()
        return self._counter

    def recorder_for(self, item: pytest.Item, spec: ScenarioSpec) -> Recorder:
        knobs, sweep = _knobs(item)
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

    def _progress_line(self, scenario: str) -> Callable[[int, int | None], None] | None:
        """A callback that writes ``ragcost: <scenario>: 40/100 requests, 12 s`` through
        pytest's terminal writer while a long scenario runs (not under -q, not on an xdist
        worker, whose output nobody sees)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or _is_worker(self.config) or self.config.get_verbosity() < 0:
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
        for missing in self.meters.unavailable:
            lines.append(f"ragcost: {missing.name} unavailable: {missing.reason}")
        if self.gate is not None:
            lines.append(f"ragcost: {self.gate.header()}")
        if self.history is not None:
            earlier = max(
                (len(runs) for keys in self.history_runs.values() for by_stat in keys.values()
                 for runs in by_stat.values()),
                default=0,
            )
            lines.append(
                f"ragcost: history: {self.history.label} ({earlier} earlier run(s) of these "
                "scenarios on this machine)"
            )
        return lines

    # -- xdist: the controller ships the budget file's text to the workers ------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        self._xdist_nodes += 1
        if self.gate is not None:
            node.workerinput["ragcost_config_text"] = self.gate.text
        node.workerinput["ragcost_history"] = _runs_to_json(self.history_runs)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}) or {}
        for data in output.get("ragcost_outcomes", []):
            self._keep(Outcome.from_dict(data))
        for note in output.get("ragcost_notes", []):
            self._note(note)
        for problem in output.get("ragcost_problems", []):
            if problem not in self.problems:
                self.problems.append(problem)
                self._duplicates = True

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
            self._duplicates = True
        self.outcomes[outcome.run.scenario] = outcome

    # -- per test ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        recorder = item.stash.get(RECORDER_KEY, None)
        if recorder is None or not recorder.metering:
            return report
        from .compare.evaluate import evaluate

        run = recorder.finish()
        scored = self._score(run) if report.passed and run.requests and run.samples else None
        outcome = evaluate(run, self.gate, quality=scored, stored=self._stored(),
                           test_passed=report.passed,
                           history=self.history_runs.get(run.scenario, {}))
        if self.spans is not None:
            try:
                # priced by evaluate(): the stage spans carry cost_usd
                self.spans.emit(outcome.run)
            except Exception as exc:  # spans out are a copy; the run goes on without them
                self._note(f"OpenTelemetry: could not emit spans: {type(exc).__name__}: {exc}")
        self._keep(outcome)
        self._apply(item, report, outcome)
        return report

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

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

        run = outcome.run
        if not self._xunit2:
            properties = list(self._properties(outcome))
            # on the item too: JUnit XML reads the properties of the teardown report
            item.user_properties.extend(properties)
            report.user_properties.extend(properties)
        # (xunit2 forbids <properties> in a <testcase>: they go on the test suite at the end)
        if self.settings.update is None:
            for verdict in outcome.verdicts:
                if verdict.status in WARNED and not self._fails(verdict):
                    text = f"{run.scenario}: {verdict.status}: {verdict.message}"
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

    def _properties(self, outcome: Outcome) -> Iterator[tuple[str, object]]:
        from .report.summary import summarize_run

        run = outcome.run
        yield "ragcost.scenario", run.scenario
        yield "ragcost.requests", len(run.requests)
        summary = summarize_run(run)
        for key in ("wall_ms", "cpu_ms", "ttft_ms", "energy_j", "tokens_total", "errors"):
            row = summary.get(key)
            if row is None:
                continue
            # six significant digits: a tiny energy figure must not round to zero
            yield f"ragcost.{key}.p50", float(f"{row['p50']:.6g}")
            yield f"ragcost.{key}.mean", float(f"{row['mean']:.6g}")
            if key == "energy_j":
                yield "ragcost.energy_j.source", row["source"]
        for verdict in outcome.verdicts:
            yield f"ragcost.verdict.{verdict.key}", verdict.status

    def _suite_properties(self) -> None:
        """Under xunit2, the per-test figures as test-suite properties named
        ``ragcost.<scenario>.<figure>`` (what ``record_testsuite_property`` writes)."""
        for plugin in self.config.pluginmanager.get_plugins():
            add = getattr(plugin, "add_global_property", None)
            if add is None or not hasattr(plugin, "family"):
                continue
            for outcome in sorted(self.outcomes.values(), key=lambda o: o.run.scenario):
                if not outcome.run.requests:
                    continue
                for name, value in self._properties(outcome):
                    if name != "ragcost.scenario":
                        add(f"ragcost.{outcome.run.scenario}.{name.removeprefix('ragcost.')}",
                            value)

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        from .compare.evaluate import FAILURE_WORDS

        if report.when != "call" or not report.failed:
            return None
        for name, value in report.user_properties:
            if name == GATE_PROPERTY and isinstance(value, str) and value in FAILURE_WORDS:
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

    def _finish(self, session: pytest.Session) -> None:
        if self._finished:
            return
        self._finished = True
        if self.spans is not None:
            for note in self.spans.shutdown():
                self._note(note)
        if _is_worker(self.config):
            self.config.workeroutput["ragcost_notes"] = list(self.notes)  # type: ignore[attr-defined]
            # workeroutput crosses a process boundary; a value it cannot carry would lose
            # every result of this worker, so anything odd travels as its repr
            self.config.workeroutput["ragcost_outcomes"] = [  # type: ignore[attr-defined]
                _transportable(o.to_dict(), self.problems) for o in self.outcomes.values()
            ]
            self.config.workeroutput["ragcost_problems"] = list(  # type: ignore[attr-defined]
                self.problems
            )
            return
        if self._duplicates:
            session.testsfailed += 1
        if self._interrupted:
            self.problems.append(
                "interrupted: nothing written"
                + (f" ({self.gate.path} unchanged)" if self.settings.update is not None
                   and self.gate is not None else "")
                + "; run the whole session to bless or report"
            )
            return
        complete = (
            not self._stopped
            and not session.shouldstop
            and not session.shouldfail
            and len(self._ran) >= session.testscollected
            and _ran_everything(session)
        )
        self._complete = complete
        if self._xunit2:
            self._suite_properties()
        if self.gate is not None:
            from .compare.evaluate import stale as stale_verdicts

            stale = stale_verdicts(self.gate, self.outcomes) if complete else []
            for verdict in stale:
                self.outcomes.setdefault(
                    verdict.scenario, Outcome(run=ScenarioRun(verdict.scenario, "", ()))
                ).verdicts.append(verdict)
            if self.settings.strict and stale and self.settings.update is None:
                session.testsfailed += 1
            if self.settings.update is not None:
                self._bless(session)
        self._write_outputs(session)
        self._record_history()

    def _record_history(self) -> None:
        """Write this run to the history (the controller only); a failure is said, never
        raised, and does not change the exit code."""
        if self.history is None:
            return
        from .history import RunMeta

        stats_wanted: dict[str, dict[str, str]] = {}
        if self.gate is not None:
            for name, scenario in self.gate.budget.scenarios.items():
                stats_wanted[name] = {k: str(e.stat) for k, e in scenario.entries.items()}
        meta = RunMeta(
            environment=self.environment,
            ragcost_version=__version__,
            profile=_profile(self.settings.update is not None),
            config={
                "requests": self.settings.requests,
                "meters": list(self.settings.meters),
                "config": str(self.settings.config_path),
                "update": self.settings.update,
            },
        )
        try:
            self.history.record(meta, list(self.outcomes.values()), stats_wanted=stats_wanted)
        except Exception as exc:
            self._history_failed("not written", exc)

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

    def _write_outputs(self, session: pytest.Session) -> None:
        import datetime as dt

        from .report.jsonout import document
        from .report.markdown import markdown
        from .report.outputs import csv_texts, frontiers, html_text

        outcomes = list(self.outcomes.values())
        meters_doc = self.environment.get("meters")
        if self._xdist_nodes and isinstance(meters_doc, dict):
            # the controller measures nothing itself: its workers shared the machine
            meters_doc["xdist_workers"] = self._xdist_nodes
        drop = self.gate.budget.defaults.quality_drop if self.gate is not None else None
        try:
            self.frontiers = frontiers(outcomes, drop)
        except Exception as exc:  # a report problem is said, never a traceback
            self.problems.append(f"could not compute the sweeps' frontiers: {exc}")
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        # a report that cannot be rendered is said and fails the run, as a file that
        # cannot be written does; the other outputs are still written
        if self.settings.html_path is not None:
            try:
                text = html_text(outcomes, self.environment, self.frontiers, created=created)
            except Exception as exc:
                self._render_failed(self.settings.html_path, exc, session)
            else:
                self._write(self.settings.html_path, text, session)
        if self.settings.csv_dir is not None:
            try:
                texts = csv_texts(outcomes, self.frontiers, created)
            except Exception as exc:
                self._render_failed(self.settings.csv_dir, exc, session)
            else:
                for name, text in texts.items():
                    self._write(self.settings.csv_dir / name, text, session)
        if self.settings.json_path is not None:
            doc = document(outcomes, self.environment, self.settings, self.gate,
                           complete=self._complete)
            self._write(self.settings.json_path, _json_text(doc), session)
        md_text: str | None = None
        if self.settings.markdown_path is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
            md_text = markdown(outcomes, self.environment, self.frontiers)
        if self.settings.markdown_path is not None and md_text is not None:
            self._write(self.settings.markdown_path, md_text, session)
        if self.settings.prometheus is not None:
            self._export_prometheus(outcomes)
        if (problem := append_step_summary(md_text)) is not None:
            self.problems.append(problem)

    def _export_prometheus(self, outcomes: list[Outcome]) -> None:
        """Write or push the metrics; a failure is reported, never fails the run (the
        results themselves are in the JSON, the history and the summary)."""
        from .export.prometheus import export, run_info
        from .export.target import parse_target

        assert self.settings.prometheus is not None
        target = parse_target(self.settings.prometheus)
        try:
            self._note(export(target, outcomes, run_info(self.environment, __version__)))
        except OSError as exc:
            self._note(
                f"warning: could not export Prometheus metrics to {target}: "
                f"{exc.strerror or exc}; the run's results are unaffected"
            )

    def _render_failed(self, path: Path, exc: Exception, session: pytest.Session) -> None:
        self.problems.append(f"could not render {path}: {type(exc).__name__}: {exc}")
        session.testsfailed += 1

    def _write(self, path: Path, text: str, session: pytest.Session) -> None:
        from .files import write_text_atomic

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
        except OSError as exc:
            self.problems.append(f"could not write {path}: {exc.strerror or exc}")
            session.testsfailed += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .report.terminal import summary_lines

        if _is_worker(self.config):
            return
        try:
            lines = summary_lines(
                list(self.outcomes.values()), self.meters, self.update_result, self.problems,
                verbose=self.config.get_verbosity() > 0,
                quiet=self.config.get_verbosity() < 0,
                frontiers=self.frontiers,
            )
        except Exception as exc:
            lines = [f"ragcost: could not render the summary: {type(exc).__name__}: {exc}"]
        lines.extend(f"ragcost warning: {line}" for line in self.history_lines)
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


def _profile(blessing: bool) -> str:
    """How the history labels a run: a bless, a plain run, or one side of a same-job A/B
    (whose runner sets RAGCOST_AB_SIDE in the runs it starts)."""
    side = os.environ.get("RAGCOST_AB_SIDE", "").strip()
    if side in ("base", "head"):
        return f"ab-{side}"
    return "bless" if blessing else "run"


def _runs_to_json(runs: dict[str, Any]) -> str:
    """Earlier runs' summaries as JSON, for the xdist workers."""
    return json.dumps(
        {
            scenario: {
                key: {stat: [[r.value, r.se, r.n, r.commit] for r in rs] for stat, rs in st.items()}
                for key, st in keys.items()
            }
            for scenario, keys in runs.items()
        }
    )


def _runs_from_json(text: str) -> dict[str, Any]:
    from .compare.stats import RunSummary

    data = json.loads(text)
    return {
        scenario: {
            key: {stat: [RunSummary(*r) for r in rs] for stat, rs in st.items()}
            for key, st in keys.items()
        }
        for scenario, keys in data.items()
    }


def _json_text(doc: dict[str, Any]) -> str:
    """The run as JSON; a value JSON cannot hold is written as its repr, never an error."""
    return json.dumps(doc, indent=2, sort_keys=False, default=repr) + "\n"


def _transportable(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    try:
        json.dumps(data)
        return data
    except (TypeError, ValueError, OverflowError, RecursionError):
        pass
    try:
        plain: dict[str, Any] = json.loads(json.dumps(data, default=repr))
        return plain
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        problems.append(
            f"scenario {data.get('run', {}).get('scenario')!r}: its samples could not be sent "
            f"from the worker ({type(exc).__name__}); its other figures are kept"
        )
        run = dict(data.get("run", {}))
        run["samples"] = []
        return {**data, "run": run}


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
