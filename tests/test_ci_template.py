"""The CI template keeps the properties its README promises.

zizmor and actionlint check it in `.ci/run`; these tests pin down what the template
itself says about pins, permissions and the one comment, so an edit that breaks one
fails here with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "ci" / "ragcost.yml"
SHA = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(TEMPLATE.read_text(encoding="utf-8"))
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", TEMPLATE.read_text(encoding="utf-8"))
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


def test_no_expression_is_written_into_a_script(workflow: dict[str, Any]) -> None:
    for step in _steps(workflow):
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: an expression in run:"


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
