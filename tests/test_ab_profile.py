"""Stage profiles in a same-job A/B: with --ragcost-profile, the HTML report sets base and
head profiles of the regressed stage side by side and marks the frames that grew."""

from __future__ import annotations

import html as html_lib
import re
import subprocess
from pathlib import Path

import pytest

from pytest_ragcost.cli import main

TEST = '''
import time

import pytest

from pipeline import retrieve


@pytest.mark.ragcost(scenario="qa")
def test_qa(ragcost):
    for q in ragcost.requests([f"question {i}" for i in range(12)]):
        with ragcost.stage("retrieve") as st:
            hits = retrieve(q)
            st.count(candidates=len(hits))
'''

BASE = '''
import time


def spin(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def retrieve(q):
    spin(10)
    return [q] * 2
'''

HEAD = BASE.replace('''def retrieve(q):
    spin(10)
    return [q] * 2''', '''def rerank_everything(q):
    spin(25)
    return [q] * 8


def retrieve(q):
    spin(10)
    return rerank_everything(q)''')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def test_ab_report_sets_base_and_head_profiles_side_by_side(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = pytester.path
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.invalid")
    git(path, "config", "user.name", "dev")
    pytester.makepyfile(test_qa=TEST, pipeline=BASE)
    pytester.makeini("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    (path / "ragcost.yaml").write_text(
        "version: 1\nscenarios:\n  qa:\n    retrieve.count_candidates: {baseline: 2}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    (path / "pipeline.py").write_text(HEAD.lstrip("\n"))
    monkeypatch.chdir(path)
    code = main(["ab", "HEAD", "--rounds", "2", "--html", "ab.html", "--",
                 "--ragcost-profile"])
    out = capsys.readouterr().out
    assert code == 1, out  # count_candidates rose from 2 to 8
    page = (path / "ab.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "Where the regressed stages grew: base against head" in page
    assert "qa: stage retrieve (retrieve.count_candidates failed)" in page
    assert 'aria-label="base: qa: stage retrieve"' in page
    assert 'aria-label="head: qa: stage retrieve"' in page
    # the table of what grew names the new hot function, with its file
    section = page[page.index("Where the regressed stages grew"):]
    table = section[section.index("<table>"):section.index("</table>")]
    rows = [[html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
    grown = {r[0]: r for r in rows}
    assert "rerank_everything" in grown, rows
    assert grown["rerank_everything"][1] == "pipeline.py:10"
    assert float(grown["rerank_everything"][2]) == 0.0  # not in base at all
    assert float(grown["rerank_everything"][3]) > 10.0  # ms per request in head
    # on head's flame graph its box is marked as grown; base's graph has no such box
    head_svg = section[section.index('aria-label="head: qa: stage retrieve"'):]
    head_svg = head_svg[:head_svg.index("</svg>")]
    assert re.search(r"<title>rerank_everything \(pipeline\.py:10\)[^<]*grew by \d+% of the "
                     r"stage against base</title>", head_svg)
    base_svg = section[section.index('aria-label="base: qa: stage retrieve"'):]
    assert "rerank_everything" not in base_svg[:base_svg.index("</svg>")]
    assert git(path, "worktree", "list").count("\n") == 1
