"""The load profile in the Markdown and the HTML report, and from a saved run: a closed loop
on a semaphore of 2 at 1 and 4 users, run in an inner session as a user runs it."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_plugin_load import closed_loop

from pytest_ragcost.run.codec import RunFileError
from pytest_ragcost.run.codec import read_run as read

COLUMNS = ["scenario", "level", "n", "wall\\_ms p50/p95", "wait\\_ms p50/p95", "queue", "req/s",
           "err/timeout", "cpu\\_ms/answer", "energy\\_j/answer", "cost\\_usd/answer"]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _markdown_rows(md: str) -> dict[str, list[str]]:
    """The load table's rows by scenario, cells stripped."""
    section = md.split("### Load profile", 1)[1]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head == COLUMNS
    rows = {}
    for ln in lines[2:]:
        if not ln.startswith("| svc-"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def _load_section(html: str) -> str:
    return html.split('<h2 id="load-profile">', 1)[1].split("<h2", 1)[0]


def _html_rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        if cells:
            rows[cells[0]] = cells
    return rows


@pytest.fixture
def profile(rag_project: pytest.Pytester) -> pytest.Pytester:
    rag_project.makepyfile(test_load=closed_loop(2, [1, 4], 0.6))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=out.md",
                                   "--ragcost-html=out.html", "--ragcost-json=run.json")
    result.assert_outcomes(passed=2)
    return rag_project


def test_the_load_table_is_in_the_markdown_and_the_html_report(
    profile: pytest.Pytester,
) -> None:
    md = (profile.path / "out.md").read_text(encoding="utf-8")
    rows = _markdown_rows(md)
    assert sorted(rows) == ["svc-u1", "svc-u4"]
    one, four = rows["svc-u1"], rows["svc-u4"]
    assert (one[1], four[1]) == ("u1", "u4")
    for row in (one, four):
        assert int(row[2]) >= 3  # 0.6 s of a 50 ms service
        p50, p95 = (_number(x) for x in row[3].split(" / "))
        assert 50 <= p50 <= p95  # latency from the intended start: at least the service
        assert _number(row[6]) > 0  # req/s
        assert row[7] == "0/0"
        assert _number(row[10]) > 0  # gpt-4o-mini tokens are priced
    # four users on two slots: two wait at every instant, one user never waits
    assert _number(one[5]) < 0.05
    assert _number(four[5]) > 0.5
    assert _number(four[3].split(" / ")[1]) > _number(one[3].split(" / ")[1])

    html = (profile.path / "out.html").read_text(encoding="utf-8")
    section = _load_section(html)
    assert _html_rows(section) == {name: [c.replace("\\", "") for c in cells]
                                   for name, cells in rows.items()}
    charts = [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", section, re.S)]
    assert [c.get("aria-label") for c in charts] == [
        "test_load.py::test_load (closed loop): latency and cost_usd per answer against load"
    ]
    tips = [t.text or "" for t in charts[0].iter("title")]
    for level in ("u1", "u4"):
        for series in ("wall_ms p50", "wall_ms p95"):
            assert any(t.startswith(f"{level} {series}: ") for t in tips), (level, series, tips)
        assert any(t.startswith(f"{level}: ") and t.endswith(" cost_usd per answer")
                   for t in tips)
    # still one self-contained page
    assert "http:" not in html
    assert "https:" not in html
    assert "<script" not in html


def test_the_terminal_and_the_markdown_show_the_same_rows(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_load=closed_loop(2, [2], 0.4))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=out.md")
    result.assert_outcomes(passed=1)
    md = _markdown_rows((rag_project.path / "out.md").read_text(encoding="utf-8"))["svc-u2"]
    line = next(ln for ln in result.outlines if ln.startswith("svc-u2 "))
    assert line.split() == " ".join(md).split()


def test_the_load_profile_renders_from_a_saved_run(
    profile: pytest.Pytester, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_ragcost.cli import main

    run = profile.path / "run.json"
    out = tmp_path / "saved.html"
    assert main(["report", str(run), "--html", "-o", str(out)]) == 0
    saved = _load_section(out.read_text(encoding="utf-8"))
    live = _load_section((profile.path / "out.html").read_text(encoding="utf-8"))
    assert saved == live
    capsys.readouterr()
    assert main(["report", str(run), "--markdown"]) == 0
    assert _markdown_rows(capsys.readouterr().out) == _markdown_rows(
        (profile.path / "out.md").read_text(encoding="utf-8"))


def _run_with_load(tmp_path: Path, load: dict[str, Any]) -> Path:
    doc = {"schema_version": 1, "scenarios": [
        {"scenario": "svc-u4", "nodeid": "t.py::t", "requests": [], "load": load}]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


GOOD = {"level": "u4", "mode": "closed", "spec": {"users": 4}, "requests": 9, "errors": 0,
        "timeouts": 0, "throughput_rps": 38.4, "queue_depth_mean": 1.9, "elapsed_s": 0.6}


@pytest.mark.parametrize(("change", "message"), [
    ({"mode": "sideways"}, "scenarios[0].load.mode must be \"closed\" or \"open\" "
     "(found the string 'sideways')"),
    ({"spec": {"users": 0}}, "scenarios[0].load.spec.users must be a whole number from 1"),
    ({"mode": "open", "spec": {"rate": -2}},
     "scenarios[0].load.spec.rate must be a number above 0 (found the number -2)"),
    ({"throughput_rps": "fast"}, "scenarios[0].load.throughput_rps must be a finite number"),
    ({"queue_depth_mean": -1}, "scenarios[0].load.queue_depth_mean must be a number of 0 or "
     "more"),
    ({"errors": 1.5}, "scenarios[0].load.errors must be a whole number"),
    ({"level": None}, "scenarios[0].load.level must be a string"),
])
def test_a_saved_runs_load_figures_are_checked(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RunFileError) as info:
        read(_run_with_load(tmp_path, {**GOOD, **change}))
    assert message in str(info.value)


def test_a_saved_runs_load_figures_are_carried(tmp_path: Path) -> None:
    saved = read(_run_with_load(tmp_path, {**GOOD, "queues": [{"name": "service"}]}))
    load = saved.outcomes[0].run.load
    assert load is not None
    assert (load.spec.users, load.spec.rate) == (4, None)
    assert (load.level, load.requests, load.throughput_rps) == ("u4", 9, 38.4)
    assert load.queues == ({"name": "service"},)
    assert read(_run_with_load(tmp_path, {})).outcomes[0].run.load is None


def _level(scenario: str, nodeid: str, load: dict[str, Any], walls: list[float]) -> dict[str, Any]:
    requests = [
        {"trace_id": f"{i:032x}", "index": i,
         "metrics": {"wall_ms": w, "wait_ms": w / 2, "cpu_ms": 3.0}}
        for i, w in enumerate(walls)
    ]
    return {"scenario": scenario, "nodeid": nodeid, "requests": requests, "load": load}


def test_open_and_closed_levels_are_charted_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Levels of one test share a chart, a closed loop's against users and an open loop's
    against the offered rate; an unpriced run charts CPU per answer and says so."""
    from pytest_ragcost.cli import main

    def figures(mode: str, spec: dict[str, float], level: str) -> dict[str, Any]:
        return {"level": level, "mode": mode, "spec": spec, "requests": 3, "errors": 0,
                "timeouts": 1, "throughput_rps": 2.5, "queue_depth_mean": 0.5}

    doc = {"schema_version": 1, "scenarios": [
        _level("api-r10", "t.py::test_api[10]", figures("open", {"rate": 10}, "r10"),
               [300, 400, 500]),
        _level("api-r2.5", "t.py::test_api[2.5]", figures("open", {"rate": 2.5}, "r2.5"),
               [100, 110, 120]),
        _level("svc-u2", "t.py::test_svc[2]", figures("closed", {"users": 2}, "u2"),
               [50, 60, 70]),
    ]}
    run = tmp_path / "run.json"
    run.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--html", "-o", str(out)]) == 0
    section = _load_section(out.read_text(encoding="utf-8"))
    assert list(_html_rows(section)) == ["svc-u2", "api-r2.5", "api-r10"]
    charts = [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", section, re.S)]
    assert [c.get("aria-label") for c in charts] == [
        "t.py::test_svc (closed loop): latency and cpu_ms per answer against load",
        "t.py::test_api (open loop): latency and cpu_ms per answer against load",
    ]
    axis = [t.text for t in charts[1].iter("text")]
    assert "requests per second offered" in axis
    assert "concurrent users" in [t.text for t in charts[0].iter("text")]
    tips = [t.text or "" for t in charts[1].iter("title")]
    assert "r10 wall_ms p50: 400 ms" in tips
    assert "r2.5: 3 cpu_ms per answer" in tips
    capsys.readouterr()
    assert main(["report", str(run), "--markdown"]) == 0
    md = capsys.readouterr().out
    row = "| api-r10 | r10 | 3 | 400.0 / 490.0 | 200.0 / 245.0 | 0.5 | 2.5 | 0/1 | 3 | - | - |"
    assert row in md
