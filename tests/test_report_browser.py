"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) opens the
file from ``file://`` under its own Content Security Policy, and we look at what a person
would see: every chart laid out with marks in colour, the stylesheet applied, no console
error, no request other than the page itself.

Marked slow. ``.ci/run`` installs chromium and sets ``RAGCOST_REQUIRE_BROWSER=1``, so a
missing browser fails there instead of skipping.
"""

from __future__ import annotations

import json
import os

import pytest
from chromium import Browser, executable
from conftest import SWEEP

EXE = executable()
if EXE is None and os.environ.get("RAGCOST_REQUIRE_BROWSER") == "1":
    raise RuntimeError("RAGCOST_REQUIRE_BROWSER=1 but no chromium: apt-get install -y chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(EXE is None, reason="needs chromium: apt-get install -y chromium"),
]

CHECK = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect();
    const mark = s.querySelector('rect[fill]:not([fill="none"]), circle[fill]');
    return {label: s.getAttribute('aria-label'), width: r.width, height: r.height,
            marks: s.querySelectorAll('rect, circle, polyline').length,
            fill: mark ? getComputedStyle(mark).fill : null};
  }),
  ruled: getComputedStyle(document.querySelector('h2')).borderBottomStyle,
  text: document.body.innerText,
})"""


@pytest.fixture(scope="module")
def browser() -> Browser:
    assert EXE is not None
    b = Browser(EXE, width=1100)
    yield b  # type: ignore[misc]
    b.close()


def test_the_report_renders_in_chromium_without_errors_or_requests(
    rag_project: pytest.Pytester, browser: Browser
) -> None:
    rag_project.makepyfile(test_sweep=SWEEP)
    result = rag_project.runpytest("--ragcost", "--ragcost-html=report.html")
    result.assert_outcomes(passed=3)
    page = (rag_project.path / "report.html").resolve()
    visit = browser.visit(page.as_uri(), CHECK, screenshot=True)
    assert visit.console == []
    assert visit.requests == [page.as_uri()]
    seen = json.loads(visit.checks)
    assert seen["ruled"] == "solid"  # the hashed stylesheet was allowed to apply
    charts = {c["label"]: c for c in seen["charts"]}
    assert len(charts) >= 20
    for label, chart in charts.items():
        assert chart["width"] > 200, label
        assert chart["height"] > 100, label
        assert chart["marks"] >= 2, label
        assert chart["fill"] not in (None, "none", "rgb(0, 0, 0)"), label
    assert "test_sweep.py::test_sweep[3]: waterfall" in charts
    assert "keep test_sweep.py::test_sweep[2] (top_k=2)" in seen["text"]
    assert visit.png.startswith(b"\x89PNG")
    assert len(visit.png) > 50_000


def test_the_browser_check_sees_a_page_that_breaks_the_rules(
    pytester: pytest.Pytester, browser: Browser
) -> None:
    """The control: the same check on a page with a script and an outside image fails."""
    page = pytester.path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"><title>bad</title></head><body>"
        "<script>console.log('hi')</script><img src='other.png'></body></html>",
        encoding="utf-8",
    )
    visit = browser.visit(page.resolve().as_uri(), CHECK)
    assert any("Content Security Policy" in line for line in visit.console)
    assert len(visit.console) == 2
