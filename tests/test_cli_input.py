"""The ``ragcost`` command against careless and hostile input: every input gets a clear
message and a documented exit code (0 ok, 1 a gate failed, 2 usage or input error),
never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_ragcost.cli import main


def _run(*, metrics: Any = None, environment: Any = None, **changes: Any) -> dict[str, Any]:
    """A minimal saved run, as --ragcost-json writes it."""
    doc: dict[str, Any] = {
        "schema_version": 1,
        "environment": {"id": "abc"} if environment is None else environment,
        "scenarios": [
            {
                "scenario": "qa",
                "nodeid": "test_x.py::test_y",
                "warmup": 0,
                "requests": [
                    {
                        "trace_id": "0" * 32,
                        "index": i,
                        "metrics": {"wall_ms": 10.0 + i, "tokens_total": 5}
                        if metrics is None else metrics,
                        "sources": {},
                        "stages": [],
                    }
                    for i in range(3)
                ],
            }
        ],
    }
    doc.update(changes)
    return doc


def _save(tmp_path: Path, content: str | bytes, name: str = "run.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _cli(*args: str, cwd: Path | None = None, stdout: Any = subprocess.PIPE,
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pytest_ragcost.cli import main; "
         "sys.exit(main())", *args],
        cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, timeout=60,
    )


BAD_INPUTS = {
    "utf16": "hello".encode("utf-16"),
    "latin1": '{"schema_version": 1, "x": "caf\xe9"}'.encode("latin-1"),
    "binary": bytes(range(256)) * 4,
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge-int": b'{"schema_version": 1, "scenarios": [], "x": ' + b"9" * 5000 + b"}",
    "nan-metric": json.dumps(_run(metrics={"wall_ms": float("nan")})).encode(),
    "inf-metric": json.dumps(_run(metrics={"wall_ms": float("inf")})).encode(),
    "null-metric": json.dumps(_run(metrics={"wall_ms": None})).encode(),
    "string-metric": json.dumps(_run(metrics={"wall_ms": "fast"})).encode(),
    "bool-metric": json.dumps(_run(metrics={"wall_ms": True})).encode(),
    "metrics-list": json.dumps(_run(metrics=[1, 2])).encode(),
    "environment-string": json.dumps(_run(environment="laptop")).encode(),
    "scenarios-missing": json.dumps({"schema_version": 1}).encode(),
    "scenario-number": json.dumps(_run(scenarios=[7])).encode(),
    "empty": b"",
    "array": b"[]",
}

EXPECTED = {
    "utf16": "is UTF-16 text",
    "latin1": "is not UTF-8 text (found byte 0xe9",
    "binary": "is not UTF-8 text",
    "deep": "nests deeper than 64 levels",
    "deep-object": "nests deeper than 64 levels",
    "huge-int": "not usable JSON",
    "nan-metric": "scenarios[0].requests[0].metrics.wall_ms must be a finite number (found "
                  "the number nan)",
    "inf-metric": "metrics.wall_ms must be a finite number (found the number inf)",
    "null-metric": "metrics.wall_ms must be a finite number (found null)",
    "string-metric": "metrics.wall_ms must be a finite number (found the string 'fast')",
    "bool-metric": "metrics.wall_ms must be a finite number (found a boolean (true))",
    "metrics-list": "scenarios[0].requests[0].metrics must be an object (found a list)",
    "environment-string": "environment must be an object (found the string 'laptop')",
    "scenarios-missing": "scenarios must be a list (found null)",
    "scenario-number": "scenarios[0] must be an object (found the number 7)",
    "empty": "run.json:1: not JSON",
    "array": "not a pytest-ragcost run",
}


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_run_files_are_input_errors_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    path = _save(tmp_path, BAD_INPUTS[name])
    assert main([command, str(path)]) == 2
    captured = capsys.readouterr()
    assert EXPECTED[name] in captured.err
    assert captured.err.startswith(f"ragcost: {path}")
    assert "Traceback" not in captured.err


def _scenario_with(**changes: Any) -> bytes:
    doc = _run()
    doc["scenarios"][0].update(changes)
    return json.dumps(doc).encode()


def _stage_start(value: Any) -> bytes:
    doc = _run()
    doc["scenarios"][0]["requests"][0]["stages"] = [
        {"name": "retrieve", "metrics": {"wall_ms": 1.0}, "sources": {}, "start_ms": value}]
    return json.dumps(doc).encode()


_VERDICT = {"scenario": "qa", "key": "wall_ms", "status": "PASS", "message": "ok",
            "baseline": 10.0, "current": 11.0, "n": 3, "interval": [0.5, 1.5]}

#: the fields the HTML report, the CSV export and the trends read, each spoilt once
BAD_FIELDS = {
    "knobs-list": (_scenario_with(knobs=[1, 2]),
                   "scenarios[0].knobs must be an object (found a list)"),
    "knob-object": (_scenario_with(knobs={"top_k": {"a": 1}}),
                    "scenarios[0].knobs.top_k must be a string, number, boolean or null"),
    "knob-nan": (_scenario_with(knobs={"temp": float("nan")}),
                 "scenarios[0].knobs.temp must be a finite number (found the number nan)"),
    "sweep-number": (_scenario_with(sweep=3),
                     "scenarios[0].sweep must be a string or null (found the number 3)"),
    "start-negative": (_stage_start(-5),
                       "scenarios[0].requests[0].stages[0].start_ms must be a number of "
                       "milliseconds, 0 or more, or null (found the number -5)"),
    "start-string": (_stage_start("soon"),
                     "stages[0].start_ms must be a finite number (found the string 'soon')"),
    "verdict-status": (_scenario_with(verdicts=[dict(_VERDICT, status="OK")]),
                       "scenarios[0].verdicts[0].status must be one of FAIL, WARN, INCONCLUSIVE"),
    "verdict-interval": (_scenario_with(verdicts=[dict(_VERDICT, interval=[1])]),
                         "scenarios[0].verdicts[0].interval must be a list of two numbers"),
    "verdict-n": (_scenario_with(verdicts=[dict(_VERDICT, n=2.5)]),
                  "scenarios[0].verdicts[0].n must be a whole number from 0 to 2**53"),
    "verdict-current": (_scenario_with(verdicts=[dict(_VERDICT, current="high")]),
                        "verdicts[0].current must be a finite number (found the string"),
    "verdicts-object": (_scenario_with(verdicts={"a": 1}),
                        "scenarios[0].verdicts must be a list (found an object)"),
    "per-success-min": (_scenario_with(per_success={"metric": "m", "min": "x",
                                                    "successes": 1, "answers": 2}),
                        "scenarios[0].per_success.min must be a finite number"),
    "per-success-cost": (_scenario_with(per_success={"metric": "m", "min": 0.5,
                                                     "successes": 1, "answers": 2,
                                                     "cost_usd": [1]}),
                         "scenarios[0].per_success.cost_usd must be a finite number"),
    "price-notes": (_scenario_with(price_notes={"gpt": 7}),
                    "scenarios[0].price_notes.gpt must be a string (found the number 7)"),
    "error-number": (_scenario_with(error=1),
                     "scenarios[0].error must be a string or null (found the number 1)"),
    "created-number": (json.dumps(_run(created=2026)).encode(),
                       "created must be a string or null (found the number 2026)"),
}


@pytest.mark.parametrize("command", ["report", "report --html -", "export --csv", "compare"])
@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_bad_report_fields_are_input_errors_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    data, expected = BAD_FIELDS[name]
    path = _save(tmp_path, data)
    args = command.split()
    args.insert(1, str(path))
    if args[-1] == "--csv":
        args.append(str(tmp_path / "csv"))
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"ragcost: {path}: ")
    assert expected in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "csv").exists()


def test_html_and_csv_are_written_as_other_outputs_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _run(created="2026-12-02T01:00:00+00:00")
    doc["scenarios"][0].update(knobs={"top_k": 4}, sweep="test_x.py::test_y",
                               verdicts=[_VERDICT], price_notes={"m": "no price"},
                               per_success={"metric": "m", "min": 0.5, "successes": 1,
                                            "answers": 3, "cost_usd": None})
    run = _save(tmp_path, json.dumps(doc))
    # a symlinked output is written through, the link stays a link
    target = tmp_path / "real.html"
    target.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    assert main(["report", str(run), "--html", "-o", str(link)]) == 0
    assert link.is_symlink()
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "2026-12-02T01:00:00+00:00" in page
    assert f"wrote {link}" in capsys.readouterr().out
    # to stdout without -o
    assert main(["report", str(run), "--html"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    # a directory is refused, with the reason
    assert main(["report", str(run), "--html", "-o", str(tmp_path)]) == 2
    assert "is a directory; give the path of a file" in capsys.readouterr().err
    # --csv on a file is refused; into a directory it writes both files
    assert main(["export", str(run), "--csv", str(target)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["export", str(run), "--csv", str(tmp_path / "csv")]) == 0
    rows = (tmp_path / "csv" / "configs.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("config,top_k,sweep,")
    assert rows[1].startswith("qa,4,test_x.py::test_y,3,")
    # --output without --html is a usage error, not silently ignored
    assert main(["report", str(run), "-o", str(tmp_path / "x.html")]) == 2
    assert "goes with --html" in capsys.readouterr().err


def test_a_missing_or_unreadable_run_is_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read: No such file or directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "is a directory, not a regular file" in capsys.readouterr().err


def test_gate_failed_is_1_and_input_error_is_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = _save(tmp_path, json.dumps(_run()))
    tight = _save(tmp_path, "version: 1\nscenarios:\n  qa:\n    tokens_total: {baseline: 2}\n",
                  "tight.yaml")
    assert main(["compare", str(run), "--config", str(tight)]) == 1
    broken = _save(tmp_path, "version: 1\nscenarios:\n  qa:\n    tokens_total: {baseline: x}\n",
                   "broken.yaml")
    assert main(["compare", str(run), "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:4: scenarios.qa.tokens_total.baseline" in err


def test_a_named_config_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _save(tmp_path, json.dumps(_run()))
    assert main(["compare", str(run), "--config", str(tmp_path / "nonexistent.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nonexistent.yaml: no such file (named by --config)" in err


def test_the_implicit_config_missing_means_every_scenario_is_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _save(tmp_path, json.dumps(_run()))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(run)]) == 0
    captured = capsys.readouterr()
    assert "note: ragcost.yaml not found: every scenario is NEW" in captured.err
    assert "NEW" in captured.out


def test_usage_errors_are_exit_2_and_help_documents_the_codes() -> None:
    result = _cli("compare")
    assert result.returncode == 2
    assert "usage: ragcost compare" in result.stderr
    result = _cli("--help")
    assert result.returncode == 0
    assert "1  compare: a gate failed" in result.stdout
    assert "2  usage or input error" in result.stdout


def test_check_names_a_missing_file_with_exit_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "ragcost.yaml")]) == 2
    assert "ragcost.yaml: no such file" in capsys.readouterr().err


def test_report_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    doc = _run()
    doc["scenarios"] = [dict(doc["scenarios"][0], scenario=f"qa-{i}") for i in range(300)]
    run = _save(tmp_path, json.dumps(doc))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    script = (
        f"{sys.executable} -c 'import sys; from pytest_ragcost.cli import main; "
        f"sys.exit(main())' report {run} | head -1"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.stdout.startswith("scenario qa-0")
    assert result.stderr == ""
    assert result.returncode == 0


def _full_device(tmp_path: Path) -> Path:
    """A private character device node behaving as /dev/full (1, 7): writes fail ENOSPC.
    Made in a temp dir, so the real /dev is never touched."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp_path / "full"
    os.mknod(node, 0o666 | 0o020000, os.makedev(1, 7))
    return node


def test_report_onto_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    run = _save(tmp_path, json.dumps(_run()))
    full = _full_device(tmp_path)
    with open(full, "w") as fh:
        result = _cli("report", str(run), stdout=fh)
    assert result.returncode == 2
    assert result.stderr == "ragcost: cannot write the output: No space left on device\n"
