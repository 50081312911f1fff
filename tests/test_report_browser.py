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


# Every chart as the browser laid it out: its caption, and the box of each of its text
# elements (tick labels, axis titles, legend entries, names beside dots) in page pixels.
LAYOUT = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
  const fig = s.closest('figure');
  const cap = fig ? fig.querySelector('figcaption') : null;
  const c = cap ? cap.getBoundingClientRect() : null;
  const r = s.getBoundingClientRect();
  return {label: s.getAttribute('aria-label'),
          caption: cap ? cap.innerText : null,
          captionHeight: c ? c.height : 0,
          box: [r.left, r.top, r.right, r.bottom],
          texts: [...s.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
            const b = t.getBoundingClientRect();
            return {text: t.textContent, box: [b.left, b.top, b.right, b.bottom]};
          })};
}))"""


def _overlap(a: list[float], b: list[float]) -> float:
    """The area two boxes share (0 when they only touch)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def layout_problems(charts: list[dict[str, object]]) -> list[str]:
    """Captions missing, text boxes that overlap within a chart or stick out of it."""
    problems = []
    for chart in charts:
        label = chart["label"]
        if not chart["caption"] or chart["captionHeight"] <= 0:  # type: ignore[operator]
            problems.append(f"{label}: no visible caption")
        texts = chart["texts"]
        box = chart["box"]
        assert isinstance(texts, list)
        assert isinstance(box, list)
        for i, a in enumerate(texts):
            ax = a["box"]
            if ax[0] < box[0] - 1 or ax[2] > box[2] + 1 or ax[1] < box[1] - 1 or \
                    ax[3] > box[3] + 1:
                problems.append(f"{label}: {a['text']!r} is cut at the chart's edge")
            for b in texts[i + 1:]:
                if _overlap(ax, b["box"]) > 1.0:
                    problems.append(f"{label}: {a['text']!r} overlaps {b['text']!r}")
    return problems


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


def test_every_chart_has_a_caption_and_no_two_labels_overlap(
    rag_project: pytest.Pytester, browser: Browser
) -> None:
    rag_project.makepyfile(test_sweep=SWEEP)
    result = rag_project.runpytest("--ragcost", "--ragcost-html=report.html")
    result.assert_outcomes(passed=3)
    visit = browser.visit((rag_project.path / "report.html").resolve().as_uri(), LAYOUT)
    charts = json.loads(visit.checks)
    assert len(charts) >= 20
    assert all(c["caption"] == c["label"] for c in charts)
    # axis titles carry their units
    texts = {t["text"] for c in charts for t in c["texts"]}
    assert "time since the request started (ms)" in texts
    assert "total wall time (s)" in texts
    assert "context_recall (score, 0-1)" in texts
    problems = layout_problems(charts)
    assert problems == [], "\n".join(problems)


def test_the_endpoint_heatmap_is_laid_out_with_its_caption(
    pytester: pytest.Pytester, browser: Browser
) -> None:
    from test_plugin_system import NET_APP

    pytester.makepyfile(test_llm=NET_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-html=r.html",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    visit = browser.visit((pytester.path / "r.html").resolve().as_uri(), LAYOUT)
    charts = {c["label"]: c for c in json.loads(visit.checks)}
    heat = charts["Errors and timeouts per stage and endpoint"]
    assert heat["caption"] == heat["label"]
    texts = [t["text"] for t in heat["texts"]]
    assert "3 err, 0 t/o" in texts
    assert any(t.startswith("fallback · 127.0.0.1:") for t in texts)
    assert layout_problems([heat]) == []


def test_the_layout_check_sees_overlapping_and_cut_labels(
    pytester: pytest.Pytester, browser: Browser
) -> None:
    """The control: a chart whose labels collide, one that sticks out, and no caption."""
    page = pytester.path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        "<svg class='chart' aria-label='bad' width='200' height='100' font-size='11'>"
        "<text x='10' y='20'>0.00025</text><text x='30' y='20'>0.0005</text>"
        "<text x='180' y='60'>beyond the edge</text></svg></body></html>",
        encoding="utf-8",
    )
    charts = json.loads(browser.visit(page.resolve().as_uri(), LAYOUT).checks)
    assert layout_problems(charts) == [
        "bad: no visible caption",
        "bad: '0.00025' overlaps '0.0005'",
        "bad: 'beyond the edge' is cut at the chart's edge",
    ]
