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
    "latin1": "is not UTF-8 text (byte 0xe9",
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


def test_a_missing_or_unreadable_run_is_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read: No such file or directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "cannot read: Is a directory" in capsys.readouterr().err


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
