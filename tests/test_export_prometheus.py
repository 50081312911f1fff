"""Prometheus export and the Grafana starter, against Debian's real prometheus tools.

promtool lints the exposition of a real run and type-checks every dashboard expression;
a real prometheus-pushgateway, started here on loopback, receives the quick-start
example's run and gives it back; and every metric a dashboard panel queries must be in
that run's exposition.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from pytest_ragcost.export.target import PrometheusTargetError, parse_target

ROOT = Path(__file__).parent.parent
DASHBOARD = ROOT / "examples" / "grafana" / "dashboards" / "ragcost.json"
QUICKSTART = ROOT / "examples" / "quickstart"
PROMTOOL = shutil.which("promtool")
PUSHGATEWAY = shutil.which("prometheus-pushgateway")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: apt-get install prometheus (.ci/run does)"
)
needs_gateway = pytest.mark.skipif(
    PUSHGATEWAY is None,
    reason="prometheus-pushgateway missing: apt-get install prometheus-pushgateway",
)
# Grafana's template variables, replaced by values PromQL accepts
GRAFANA_VARS = {"$scenario": ".*", "$__range": "1h", "$__rate_interval": "5m",
                "$__interval": "1m"}


# -- the target --------------------------------------------------------------------------
def test_targets_parse() -> None:
    assert str(parse_target("textfile:/var/lib/node/ragcost.prom")) == (
        "textfile:/var/lib/node/ragcost.prom"
    )
    target = parse_target("pushgateway:http://gw:9091?branch=main")
    assert (target.kind, target.where, target.grouping) == (
        "pushgateway", "http://gw:9091", (("branch", "main"),)
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("statsd:localhost", "*takes textfile:PATH*or pushgateway:URL*(got 'statsd:localhost')"),
        ("pushgateway:gw:9091", "*the URL needs http:// or https://*"),
        ("pushgateway:http://gw:9091?git_sha=abc", "*'git_sha' cannot be in the Pushgateway "
         "grouping key: the gateway never forgets a group*"),
    ],
)
def test_bad_targets_say_what_to_write(value: str, message: str) -> None:
    with pytest.raises(PrometheusTargetError) as info:
        parse_target(value)
    assert fnmatch.fnmatchcase(str(info.value), message), str(info.value)


def test_bad_target_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--ragcost", "--ragcost-prometheus=textfile")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ragcost-prometheus takes textfile:PATH*"])


# -- a real run's exposition ---------------------------------------------------------------
def _quickstart(pytester: pytest.Pytester) -> None:
    for path in QUICKSTART.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = pytester.path / path.relative_to(QUICKSTART)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)



@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The quick-start example run once under the gate with a textfile export."""
    work = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(QUICKSTART, work, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = work / "metrics" / "ragcost.prom"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--ragcost", "--ragcost-meter=process,estimate",
         "--ragcost-requests=8", f"--ragcost-prometheus=textfile:{out}", "-p", "no:randomly"],
        cwd=work, capture_output=True, text=True, timeout=600, check=False,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"ragcost: Prometheus metrics written to {out}" in proc.stdout
    return out.read_text()


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _series(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def test_exposition_has_the_run(exposition: str) -> None:
    series = _series(exposition)
    info = series["ragcost_run_info"][0][0]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", info["git_sha"])
    counts = {tuple(sorted(labels.items())): v
              for labels, v in series["ragcost_stage_duration_seconds_count"]}
    assert counts == {
        (("scenario", "quickstart-qa"), ("stage", "bm25_search")): 8.0,
        (("scenario", "quickstart-qa"), ("stage", "generate")): 8.0,
    }
    tokens = {labels["token_type"] for labels, _ in series["ragcost_stage_tokens_count"]}
    assert {"prompt", "context", "completion"} <= tokens
    assert series["ragcost_answer_cost_dollars_count"][0][1] == 8.0
    assert {labels["metric"] for labels, _ in series["ragcost_quality_score"]}
    # no per-request or per-commit label anywhere but the info metric
    for name, samples in series.items():
        for labels, _ in samples:
            assert not {"trace_id", "request"} & set(labels), name
            if name != "ragcost_run_info":
                assert "git_sha" not in labels, name
    # no *_created series: a snapshot has no process start time to report
    assert not any(name.endswith("_created") for name in series)


@needs_promtool
def test_promtool_accepts_the_exposition(exposition: str) -> None:
    assert PROMTOOL is not None
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=exposition,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""
    assert proc.stderr.strip() == ""


# -- the dashboard ------------------------------------------------------------------------
def _expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            out.append((f"variable {variable['name']}", variable["definition"]))
    return out


def _promql(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


def test_dashboard_has_the_blueprint_panels() -> None:
    titles = " | ".join(json.loads(DASHBOARD.read_text())["panels"][i]["title"]
                        for i in range(len(json.loads(DASHBOARD.read_text())["panels"])))
    for words in ("Waterfall: p50 and p95 per stage", "Dollars per answer",
                  "CPU seconds per answer", "Energy per answer", "Token distribution",
                  "Time to first token and tokens/s", "Retrieval knobs against latency",
                  "Quality against cost", "Errors per endpoint"):
        assert words in titles


@needs_promtool
def test_every_dashboard_expression_passes_promtool(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    exprs = [e for _, e in _expressions() if not e.startswith("label_values(")]
    rules = ["groups:", "  - name: ragcost-dashboard", "    rules:"]
    for index, expr in enumerate(exprs):
        rules.append(f"      - record: ragcost:dashboard_expr_{index}")
        rules.append(f"        expr: {json.dumps(_promql(expr))}")
    path = tmp_path / "dashboard-rules.yml"
    path.write_text("\n".join(rules) + "\n")
    proc = subprocess.run([PROMTOOL, "check", "rules", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in proc.stdout


@needs_promtool
def test_the_example_prometheus_config_is_valid() -> None:
    assert PROMTOOL is not None
    proc = subprocess.run(
        [PROMTOOL, "check", "config", str(ROOT / "examples" / "grafana" / "prometheus.yml")],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(ragcost_[a-z_]+)\b", expr))


def test_every_metric_a_panel_queries_is_in_a_real_run(exposition: str) -> None:
    series = _series(exposition)
    queried = {name for _, expr in _expressions() for name in _metric_names(expr)}
    assert len(queried) >= 12
    missing = sorted(name for name in queried if not series.get(name))
    assert not missing, f"the dashboard queries series no run produced: {missing}"


# -- a real Pushgateway -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    assert PUSHGATEWAY is not None
    port = _free_port()
    proc = subprocess.Popen(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}",
         f"--persistence.file={tmp_path / 'gw.db'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@needs_gateway
def test_the_example_run_lands_in_a_real_pushgateway(
    pytester: pytest.Pytester, pushgateway: str
) -> None:
    _quickstart(pytester)
    target = f"pushgateway:{pushgateway}?branch=main"
    for _ in range(2):  # the second push replaces the first: one group, not two
        result = pytester.run(
            sys.executable, "-m", "pytest", "--ragcost", "--ragcost-meter=process,estimate",
            "--ragcost-requests=6", f"--ragcost-prometheus={target}",
            timeout=600,
        )
        assert result.ret == 0, result.stdout.str()[-3000:]
        result.stdout.fnmatch_lines([
            f"ragcost: Prometheus metrics pushed to {pushgateway} "
            "(group job=ragcost, branch=main)"
        ])
    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=10) as resp:
        scraped = resp.read().decode()
    ours = "\n".join(
        line for line in scraped.splitlines()
        if line.startswith(("ragcost_", "# HELP ragcost_", "# TYPE ragcost_"))
    ) + "\n"
    series = _series(ours)
    counts = series["ragcost_request_duration_seconds_count"]
    assert counts == [({"branch": "main", "instance": "", "job": "ragcost",
                        "scenario": "quickstart-qa"}, 6.0)]
    # the commit is a label of the info metric only, never of the group
    info = series["ragcost_run_info"]
    assert len(info) == 1
    assert "git_sha" in info[0][0]
    with urllib.request.urlopen(f"{pushgateway}/api/v1/metrics", timeout=10) as resp:
        groups = json.loads(resp.read())["data"]
    assert [g["labels"] for g in groups] == [{"branch": "main", "job": "ragcost"}]
    queried = {name for _, expr in _expressions() for name in _metric_names(expr)}
    missing = sorted(name for name in queried if not series.get(name))
    assert not missing, f"the dashboard finds nothing for {missing} in the gateway"


def test_an_unreachable_pushgateway_warns_and_keeps_the_results(
    pytester: pytest.Pytester,
) -> None:
    _quickstart(pytester)
    port = _free_port()
    out = pytester.path / "out.json"
    result = pytester.run(
        sys.executable, "-m", "pytest", "--ragcost", "--ragcost-meter=process",
        "--ragcost-requests=3", f"--ragcost-json={out}",
        f"--ragcost-prometheus=pushgateway:http://127.0.0.1:{port}", timeout=600,
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        f"ragcost: warning: could not export Prometheus metrics to "
        f"pushgateway:http://127.0.0.1:{port}: *; the run's results are unaffected"
    ])
    assert json.loads(out.read_text())["scenarios"][0]["scenario"] == "quickstart-qa"
