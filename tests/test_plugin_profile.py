"""--ragcost-profile met as a user meets it: a CPU hog inside a retrieval function is named,
by function and file, in the HTML report; profiles are kept for failing scenarios or for
all; speedscope and collapsed-stack files land beside the run JSON."""

from __future__ import annotations

import html as html_lib
import json
import re
import xml.etree.ElementTree as ET

import pytest

HOG = '''
import time

import pytest


def spin(ms):
    end = time.perf_counter() + ms / 1000
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def rank_candidates(q):
    return spin(6)  # the hog: most of the retrieval time


def search_index(q):
    spin(2)
    return rank_candidates(q)


@pytest.mark.ragcost(scenario="qa-hog")
def test_hog(ragcost):
    for q in ragcost.requests([f"q{i}" for i in range(40)]):
        with ragcost.stage("retrieve"):
            search_index(q)
        with ragcost.stage("generate") as st:
            spin(4)
            st.tokens(prompt=40 + len(q), completion=5)


@pytest.mark.ragcost(scenario="qa-light")
def test_light(ragcost):
    for q in ragcost.requests([f"q{i}" for i in range(10)]):
        with ragcost.stage("retrieve"):
            spin(15)  # long enough for a sample even when the machine is busy
'''


@pytest.fixture
def hog(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_hog=HOG)
    return pytester


def _text(svg: ET.Element) -> str:
    return " ".join(t for t in svg.itertext())


def test_a_cpu_hog_in_a_retrieval_function_is_named_by_function_and_file(
    hog: pytest.Pytester,
) -> None:
    result = hog.runpytest("--ragcost", "--ragcost-profile=all", "--ragcost-html=report.html",
                           "--ragcost-json=run.json", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["ragcost: profiles of 2 scenario(s), 3 stage(s): speedscope "
                                 "and collapsed stacks in *run.profiles"])
    page = (hog.path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "Profile of stage retrieve" in page
    # the hottest-functions table of qa-hog's retrieve stage: the hog first, with its file
    section = page[page.index("Profile of stage retrieve"):]
    table = section[section.index("<table>"):section.index("</table>")]
    first = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table, re.S)
    assert first is not None
    cells = [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", first.group(1))]
    assert cells[0] == "spin"  # the innermost frame: where the CPU goes
    assert cells[1] == "test_hog.py:6"  # makepyfile drops the source's first blank line
    assert cells[2] == "rank_candidates (test_hog.py:14)"  # the retrieval function that hogs
    flames = [ET.fromstring(s) for s in re.findall(r'<svg class="chart flame".*?</svg>', page,
                                                    re.S)]
    retrieve = next(f for f in flames if f.get("aria-label") == "qa-hog: stage retrieve")
    tips = [t.text or "" for t in retrieve.iter("{http://www.w3.org/2000/svg}title")] + [
        t.text or "" for t in retrieve.iter("title")]
    hot = [t for t in tips if t.startswith("rank_candidates (test_hog.py:14)")]
    assert hot, tips
    share = float(re.search(r"\): ([0-9.]+)% of the stage", hot[0]).group(1))
    # 6 of the stage's 8 ms: sampled (benchmarks/bench_profile.py measures how well), so
    # give it room, but it must dominate
    assert share >= 50, hot[0]
    assert "search_index" in _text(retrieve)


def test_profile_files_beside_the_json_are_speedscope_and_collapsed_stacks(
    hog: pytest.Pytester,
) -> None:
    hog.runpytest("--ragcost", "--ragcost-profile=all", "--ragcost-json=out/run.json",
                  "-p", "no:randomly").assert_outcomes(passed=2)
    directory = hog.path / "out" / "run.profiles"
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["qa-hog.generate.collapsed", "qa-hog.retrieve.collapsed",
                     "qa-hog.speedscope.json", "qa-light.retrieve.collapsed",
                     "qa-light.speedscope.json"]
    doc = json.loads((directory / "qa-hog.speedscope.json").read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert [p["name"] for p in doc["profiles"]] == ["generate", "retrieve"]
    retrieve = doc["profiles"][1]
    assert retrieve["type"] == "sampled"
    assert retrieve["unit"] == "milliseconds"
    assert len(retrieve["samples"]) == len(retrieve["weights"]) > 0
    names_in = {doc["shared"]["frames"][i]["name"] for s in retrieve["samples"] for i in s}
    assert {"test_hog", "search_index", "rank_candidates", "spin"} <= names_in
    # the stage's sampled time is about its wall time (40 requests of ~8 ms)
    assert 100 < retrieve["endValue"] < 1200, retrieve["endValue"]
    lines = (directory / "qa-hog.retrieve.collapsed").read_text().splitlines()
    top = lines[0].rsplit(" ", 1)
    assert top[0].startswith("test_hog (")
    assert top[0].endswith("spin (" + str(hog.path / "test_hog.py") + ":6)")
    assert int(top[1]) > 0


def test_a_saved_runs_report_draws_the_profiles_beside_it(
    hog: pytest.Pytester, capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_ragcost.cli import main

    hog.runpytest("--ragcost", "--ragcost-profile=all", "--ragcost-json=run.json",
                  "-p", "no:randomly").assert_outcomes(passed=2)
    run = str(hog.path / "run.json")
    assert main(["report", run, "--html", str(hog.path / "again.html")]) == 0
    page = (hog.path / "again.html").read_text(encoding="utf-8")
    assert 'aria-label="qa-hog: stage retrieve"' in page
    assert "rank_candidates (test_hog.py:14)" in page
    (hog.path / "run.profiles" / "qa-light.speedscope.json").write_text("{not json")
    assert main(["report", run, "--html", str(hog.path / "again.html")]) == 0
    assert "qa-light.speedscope.json: not a profile this version wrote" in capsys.readouterr().err
    page = (hog.path / "again.html").read_text(encoding="utf-8")
    assert 'aria-label="qa-hog: stage retrieve"' in page
    assert 'aria-label="qa-light: stage retrieve"' not in page


def test_by_default_only_failing_scenarios_keep_their_profile(hog: pytest.Pytester) -> None:
    hog.makefile(".yaml", ragcost="version: 1\nscenarios:\n  qa-hog:\n"
                 "    tokens_prompt: {baseline: 10}\n")
    result = hog.runpytest("--ragcost", "--ragcost-profile", "--ragcost-json=run.json",
                           "--ragcost-html=report.html", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    names = sorted(p.name for p in (hog.path / "run.profiles").iterdir())
    assert names == ["qa-hog.generate.collapsed", "qa-hog.retrieve.collapsed",
                     "qa-hog.speedscope.json"]
    page = (hog.path / "report.html").read_text(encoding="utf-8")
    assert 'aria-label="qa-hog: stage retrieve"' in page
    assert 'aria-label="qa-light: stage retrieve"' not in page


def test_nothing_failed_nothing_kept_and_said(hog: pytest.Pytester) -> None:
    result = hog.runpytest("--ragcost", "--ragcost-profile=failed", "--ragcost-json=run.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["ragcost: profiles: no scenario failed a gate, so none was "
                                 "kept (--ragcost-profile=all keeps every scenario's)"])
    assert not (hog.path / "run.profiles").exists()


def test_profiles_cross_xdist_workers(hog: pytest.Pytester) -> None:
    result = hog.runpytest("--ragcost", "--ragcost-profile=all", "--ragcost-json=run.json",
                           "-n", "2")
    result.assert_outcomes(passed=2)
    assert (hog.path / "run.profiles" / "qa-hog.speedscope.json").exists()
    assert (hog.path / "run.profiles" / "qa-light.speedscope.json").exists()


@pytest.mark.parametrize(("args", "ini"), [(["--ragcost-profile=sometimes"], None),
                                           ([], "sometimes")])
def test_a_bad_profile_mode_is_a_usage_error(hog: pytest.Pytester, args: list[str],
                                             ini: str | None) -> None:
    if ini is not None:
        hog.makeini(f"[pytest]\nragcost_profile = {ini}\n")
    result = hog.runpytest("--ragcost", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    where = "--ragcost-profile" if args else "ini option 'ragcost_profile'"
    result.stderr.fnmatch_lines([f"*{where} takes failed or all (got 'sometimes')*"])


def test_the_ini_turns_profiles_on(hog: pytest.Pytester) -> None:
    hog.makeini("[pytest]\nragcost_profile = all\n")
    hog.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=2)
    assert (hog.path / "run.profiles" / "qa-light.speedscope.json").exists()


def test_where_the_sampler_cannot_run_the_run_goes_on_and_says_why(
    hog: pytest.Pytester,
) -> None:
    hog.makeconftest("import sys\ndel sys._current_frames\n")
    result = hog.runpytest("--ragcost", "--ragcost-profile=all", "--ragcost-json=run.json",
                           "--ragcost-html=report.html")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["ragcost: profile of qa-hog: this Python (cpython) has no "
                                 "sys._current_frames(), which the sampler reads"])
    page = (hog.path / "report.html").read_text(encoding="utf-8")
    assert "Profile: this Python (cpython) has no sys._current_frames()" in page


def test_the_same_function_in_two_files_is_named_after_its_own_file() -> None:
    # code objects compare equal by their contents, whatever file they came from: the
    # second copy was named after the first (two pytester projects with the same test
    # file, or two checkouts of one module, in one process)
    from pytest_ragcost.profile.sampler import _frames

    source = "def spin():\n    return sum(range(10))\n"
    codes = []
    for where in ("/first/test_hog.py", "/second/test_hog.py"):
        namespace: dict[str, object] = {}
        exec(compile(source, where, "exec"), namespace)
        codes.append(namespace["spin"].__code__)  # type: ignore[attr-defined]
    assert codes[0] == codes[1]  # what made the cache name the second after the first
    files = [next(iter(_frames({(code,): 1}, 5.0)))[0].file for code in codes]
    assert files == ["/first/test_hog.py", "/second/test_hog.py"]
