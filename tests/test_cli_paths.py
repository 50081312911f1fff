"""One convention for output paths: an output option takes its path as its value.

``ragcost report RUN --html PATH`` and ``--markdown PATH`` write files, as
``ragcost export RUN --csv DIR`` and the plugin's ``--ragcost-html=PATH`` do; ``-`` is
stdout. The old spellings (``--html -o FILE``, ``--html`` or ``--markdown`` without a
path) keep working and say on stderr what to write instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ragcost.cli import main

SCENARIO = """
import pytest

@pytest.mark.ragcost(scenario="paths-qa", requests=3)
def test_qa(ragcost):
    for q in ragcost.requests(["alpha beta", "gamma delta", "epsilon"]):
        with ragcost.stage("generate") as st:
            st.tokens(context=[q] * 3, prompt=q, model="gpt-4o")
"""

DEPRECATED = "is deprecated and will be removed"


def _env() -> dict[str, str]:
    """This tree's package first, as in the test session itself."""
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real saved run, written by ``pytest --ragcost`` (once for the module: each test
    only reads it), with the plugin's HTML and Markdown of the same run beside it."""
    project = tmp_path_factory.mktemp("project")
    (project / "test_paths_scenario.py").write_text(SCENARIO, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--ragcost",
         "--ragcost-history=none", "--ragcost-json=run.json", "--ragcost-html=plugin.html",
         "--ragcost-markdown=plugin.md"],
        cwd=project, capture_output=True, text=True, env=_env(), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "run.json"


def test_html_and_markdown_take_their_path_as_their_value(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, md = tmp_path / "out" / "report.html", tmp_path / "summary.md"
    assert main(["report", str(run), "--html", str(html), "--markdown", str(md)]) == 0
    captured = capsys.readouterr()
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "paths-qa" in html.read_text(encoding="utf-8")
    # the same Markdown the plugin wrote for the same run
    assert md.read_text(encoding="utf-8") == (run.parent / "plugin.md").read_text(
        encoding="utf-8")
    assert f"ragcost: wrote {html} (" in captured.out
    assert f"ragcost: wrote {md} (" in captured.out
    assert captured.err == ""


def test_a_dash_is_stdout_and_stdout_carries_only_that_report(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "report.html"
    assert main(["report", str(run), "--markdown", "-", "--html", str(html)]) == 0
    captured = capsys.readouterr()
    assert captured.out == (run.parent / "plugin.md").read_text(encoding="utf-8")
    assert f"ragcost: wrote {html}" in captured.err
    assert DEPRECATED not in captured.err
    assert main(["report", str(run), "--html", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("<!DOCTYPE html>")
    assert captured.err == ""


@pytest.mark.parametrize(
    ("args", "new"),
    [
        (["{run}", "--html", "-o", "{out}"], "write --html {out}"),
        (["{run}", "--html", "--output", "{out}"], "write --html {out}"),
    ],
)
def test_the_old_html_output_flag_still_writes_the_file(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], new: str
) -> None:
    out = tmp_path / "old.html"
    argv = ["report"] + [a.format(run=run, out=out) for a in args]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"ragcost: --html -o FILE {DEPRECATED}; {new.format(out=out)}" in captured.err
    assert f"ragcost: wrote {out}" in captured.out


@pytest.mark.parametrize(
    ("args", "flag", "starts"),
    [
        (["{run}", "--html"], "--html", "<!DOCTYPE html>"),
        (["--html", "{run}"], "--html", "<!DOCTYPE html>"),
        (["{run}", "--markdown"], "--markdown", "## ragcost"),
        (["--markdown", "{run}"], "--markdown", "## ragcost"),
    ],
)
def test_the_old_bare_flags_still_print_to_stdout(
    run: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str, starts: str
) -> None:
    assert main(["report"] + [a.format(run=run) for a in args]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(starts)
    assert (f"ragcost: {flag} without a path (to stdout) {DEPRECATED}; write {flag} PATH, "
            f"or {flag} - for stdout") in captured.err


def test_the_old_bare_html_flag_keeps_its_trends(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--html --history A B`` (the old spelling with trends) still reads the history."""
    history = [str(run)] * 3
    old = tmp_path / "old.html"
    assert main(["report", str(run), "--html", "-o", str(old), "--history", *history]) == 0
    new = tmp_path / "new.html"
    assert main(["report", str(run), "--html", str(new), "--history", *history]) == 0
    capsys.readouterr()
    assert old.read_text(encoding="utf-8") == new.read_text(encoding="utf-8")
    assert "Trends over 4 runs" in new.read_text(encoding="utf-8")  # and the run itself
    assert main(["report", str(run), "--html", str(tmp_path / "plain.html")]) == 0
    assert "Trends over" not in (tmp_path / "plain.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}", "--html", "a.html", "-o", "b.html"],
         "give the HTML report's path once: --html a.html"),
        (["{run}", "-o", "b.html"], "-o/--output goes with --html (the HTML report); "
                                    "write --html b.html"),
        (["{run}", "--html", "-", "--markdown", "-"],
         "--html and --markdown cannot both go to stdout"),
        (["{run}", "--history", "{run}"], "--history goes with --html"),
        ([], "report needs the run file: ragcost report RUN.json"),
    ],
)
def test_contradictory_paths_are_usage_errors(
    run: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["report"] + [a.format(run=run) for a in args]) == 2
    captured = capsys.readouterr()
    assert f"ragcost: {message}" in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err


def test_the_command_line_keeps_stdout_for_the_report(run: Path, tmp_path: Path) -> None:
    """Through a real process: the report on stdout, the deprecation on stderr."""
    env = _env()
    old = subprocess.run([sys.executable, "-m", "pytest_ragcost.cli", "report", str(run),
                          "--markdown"], capture_output=True, text=True, env=env, check=False)
    assert old.returncode == 0, old.stderr
    assert old.stdout == (run.parent / "plugin.md").read_text(encoding="utf-8")
    assert DEPRECATED in old.stderr
    new = subprocess.run([sys.executable, "-m", "pytest_ragcost.cli", "report", str(run),
                          "--html", str(tmp_path / "r.html")], capture_output=True,
                         text=True, env=env, check=False)
    assert new.returncode == 0, new.stderr
    assert new.stderr == ""
    assert (tmp_path / "r.html").is_file()


def test_export_and_report_follow_the_plugins_flags(run: Path, tmp_path: Path) -> None:
    """``--csv DIR`` like ``--ragcost-csv=DIR``; ``--html PATH`` like ``--ragcost-html``."""
    assert main(["export", str(run), "--csv", str(tmp_path / "csv")]) == 0
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["configs.csv",
                                                                     "requests.csv"]
    assert main(["report", str(run), "--html", str(tmp_path / "cli.html")]) == 0
    plugin = (run.parent / "plugin.html").read_text(encoding="utf-8")
    cli = (tmp_path / "cli.html").read_text(encoding="utf-8")
    assert plugin.startswith("<!DOCTYPE html>")
    assert cli.startswith("<!DOCTYPE html>")
    assert "paths-qa" in plugin
    assert "paths-qa" in cli
