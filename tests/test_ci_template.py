"""The CI templates keep the properties their README promises.

zizmor and actionlint check them in `.ci/run`; these tests pin down what the templates
themselves say about pins, permissions and the one comment, so an edit that breaks one
fails here with the reason; the sharded template's own scripts run on a small suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "ci" / "ragcost.yml"
SHARDED = ROOT / "examples" / "ci" / "ragcost-sharded.yml"
TEMPLATES = (TEMPLATE, SHARDED)
SHA = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(TEMPLATE.read_text(encoding="utf-8"))
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def test_the_templates_are_every_workflow_of_the_folder() -> None:
    # .ci/run lints examples/ci/*.yml: a new template is tested here too
    assert sorted((ROOT / "examples" / "ci").glob("*.yml")) == sorted(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(template: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", template.read_text(encoding="utf-8"))
    assert uses
    for ref, rest in uses:
        action, _, pin = ref.partition("@")
        assert SHA.match(pin), f"{action} is pinned to {pin!r}, not a full commit"
        assert re.match(r"\s*#\s*v\d+\.\d+\.\d+\b", rest), f"{action}: no '# vX.Y.Z' comment"


def test_pytest_ragcost_is_installed_from_a_commit_of_this_repository(
    workflow: dict[str, Any],
) -> None:
    source = workflow["env"]["RAGCOST_SOURCE"]
    m = re.fullmatch(r"pytest-ragcost @ git\+https://github\.com/pytest-ragcost/"
                     r"pytest-ragcost@([0-9a-f]{40})", source)
    assert m, source
    installs = [s["run"] for s in _steps(workflow) if "pip install" in s.get("run", "")]
    assert installs == ['python -m pip install "$RAGCOST_SOURCE" -e . -c constraints.txt']
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the pinned commit cannot be looked up")
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{m[1]}^{{commit}}"],
                           capture_output=True, check=False)
    if found.returncode != 0 and subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
            capture_output=True, text=True, check=False).stdout.strip() == "true":
        pytest.skip("a shallow clone: the pinned commit may be older than its history")
    assert found.returncode == 0, f"{m[1]} is not a commit of this repository"


def test_least_permissions_and_no_credentials(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["gate"]["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["comment"]["permissions"] == {"pull-requests": "write"}
    checkouts = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    # no pull_request_target or workflow_run: nothing runs with the base's write token
    assert set(workflow["on"]) == {"pull_request", "workflow_dispatch"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_expression_is_written_into_a_script(template: Path) -> None:
    for step in _steps(_load(template)):
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: an expression in run:"


def test_the_sharded_template_reads_only_and_pins_what_the_first_does() -> None:
    sharded = _load(SHARDED)
    assert sharded["env"]["RAGCOST_SOURCE"] == _load(TEMPLATE)["env"]["RAGCOST_SOURCE"]
    assert sharded["permissions"] == {}
    assert {name: job["permissions"] for name, job in sharded["jobs"].items()} == {
        "shard": {"contents": "read"}, "gate": {"contents": "read"},
        "record": {"contents": "read"}}
    checkouts = [s for s in _steps(sharded) if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 3
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert set(sharded["on"]) == {"pull_request", "workflow_dispatch"}


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if s.get("name") == name]
    assert len(found) == 1, f"no step named {name!r}"
    return found[0]


def test_the_matrix_slices_the_suite_once_and_the_last_job_merges_every_slice() -> None:
    jobs = _load(SHARDED)["jobs"]
    shard, gate = jobs["shard"], jobs["gate"]
    command = _step(shard, "Run this shard's slice")["run"]
    count = int(re.search(r'--ragcost-shard="\$\{SHARD\}/(\d+)"', command)[1])  # type: ignore[index]
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, count + 1))
    assert shard["strategy"]["fail-fast"] is False
    assert " -n 2" in command
    assert "--ragcost-history=none" in command
    upload = _step(shard, "Upload the shard's run")
    assert upload["with"]["name"] == "ragcost-shard-${{ matrix.shard }}"
    assert upload["with"]["if-no-files-found"] == "error"
    assert gate["needs"] == "shard"
    assert gate["if"] == "${{ !cancelled() }}"
    download = _step(gate, "Download the shards' runs")["with"]
    assert download == {"pattern": "ragcost-shard-*", "merge-multiple": True, "path": "shards"}
    # the whole run is pushed once, by the last job; no shard pushes a slice
    push = _step(gate, "Push the merged run's metrics, once")
    assert push["run"] == 'ragcost export ragcost.json --prometheus "pushgateway:${PUSHGATEWAY}"'
    assert "github.event_name != 'pull_request'" in push["if"]
    assert not any("prometheus" in s.get("run", "") for s in shard["steps"])
    # the merged run is recorded once, by a job of its own: only it sees the password,
    # in an environment of its own; a store that is down never fails the gate
    record = jobs["record"]
    assert record["needs"] == "gate"
    assert gate["outputs"]["merged"] == "${{ steps.merge.outcome == 'success' }}"
    assert "needs.gate.outputs.merged == 'true'" in record["if"]
    assert "vars.RAGCOST_HISTORY != ''" in record["if"]
    assert record["environment"] == "ragcost-history"
    assert record["continue-on-error"] is True
    step = _step(record, "Record the merged run, once")
    assert step["env"]["PGPASSWORD"] == "${{ secrets.RAGCOST_HISTORY_PASSWORD }}"
    secrets = [name for name, job in jobs.items() if "secrets." in json.dumps(job)]
    assert secrets == ["record"]
    assert not any("history record" in s.get("run", "") for s in [*shard["steps"],
                                                                   *gate["steps"]])


SUITE = textwrap.dedent(
    """
    import pytest


    @pytest.mark.parametrize("context", [300, 400, 480, 500])
    @pytest.mark.ragcost()
    def test_qa(ragcost, context):
        for q in ragcost.requests(["a", "b"]):
            with ragcost.stage("generate") as st:
                st.tokens(prompt=10, context=context, completion=5, model="gpt-4o-mini")
    """
)
BUDGET = """\
version: 1
scenarios:
  test_suite.py::test_qa[400]:
    tokens_context: {baseline: 400}
  test_suite.py::test_qa[480]:
    tokens_context: {baseline: 400}
  gone:
    errors: {baseline: 0}
"""


def test_the_sharded_templates_scripts_merge_and_gate_a_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    jobs = _load(SHARDED)["jobs"]
    summary = pytester.path / "summary.md"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "GITHUB_"))} | {"GITHUB_STEP_SUMMARY": str(summary)}

    def run(script: str, **extra: str) -> int:
        done = subprocess.run(["bash", "-e", "-c", script], cwd=pytester.path,
                              env=env | extra, capture_output=True, text=True, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode

    (pytester.path / "shards").mkdir()
    for shard in jobs["shard"]["strategy"]["matrix"]["shard"]:
        run(_step(jobs["shard"], "Run this shard's slice")["run"], SHARD=str(shard))
        # what the upload and the download do
        shutil.copy(pytester.path / f"shard-{shard}.json", pytester.path / "shards")
    summary.write_text("", encoding="utf-8")
    assert run(_step(jobs["gate"], "Merge the shards into one run")["run"]) == 0
    assert run(_step(jobs["gate"], "Gate the merged run")["run"]) == 1  # test_qa[480] rose
    assert run(_step(jobs["gate"], "Write the verdicts to the job summary")["run"]) == 0
    judged = json.loads((pytester.path / "ragcost-judged.json").read_text(encoding="utf-8"))
    assert judged["complete"] is True
    rows = {(v["scenario"], v["status"]) for sc in judged["scenarios"] for v in sc["verdicts"]
            if v["key"] in ("tokens_context", "*")}
    assert {("test_suite.py::test_qa[400]", "PASS"), ("test_suite.py::test_qa[480]", "FAIL"),
            ("gone", "STALE")} <= rows
    text = summary.read_text(encoding="utf-8")
    assert "gone" in text
    assert "test_qa[480]" in text
    # the record job's script writes the merged run into the store once (a SQLite path
    # stands in for the team's PostgreSQL)
    record = _step(jobs["record"], "Record the merged run, once")["run"]
    store = str(pytester.path / "team.sqlite3")
    assert run(record, RAGCOST_HISTORY=store) == 0
    assert run(record, RAGCOST_HISTORY=store) == 2  # the same run again: refused
    import sqlite3

    with sqlite3.connect(store) as db:
        (run_id,) = db.execute("SELECT id FROM run").fetchone()
        (n,) = db.execute("SELECT COUNT(*) FROM run_scenario").fetchone()
    assert run_id == json.loads((pytester.path / "ragcost.json").read_text("utf-8"))["id"]
    assert n == 4


def test_the_comment_job_runs_no_code_of_the_pull_request(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["comment"]
    assert job["needs"] == "gate"
    uses = [s["uses"].partition("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/download-artifact"]
    script = job["steps"][-1]["run"]
    assert "<!-- pytest-ragcost -->" in script
    assert "--method PATCH" in script
    assert "--method POST" in script
    assert "head.repo.full_name == github.repository" in job["if"]
