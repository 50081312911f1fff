"""Which earlier runs a branch's trend follows: the branch's own runs and the runs of the
commits it was built on (so a feature branch's trend starts with main's history up to the
merge base, and leaves out what main did after it forked).

:func:`lineage_of` asks git for the current commit's ancestors. A shallow clone (as CI
makes) knows too few of them; then the base branch the CI system names
(``GITHUB_BASE_REF``, ``CI_MERGE_REQUEST_TARGET_BRANCH_NAME``) stands in: its runs up to
this branch's first run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: how many ancestors a trend looks for (about a year of a busy repository's first parents)
MAX_COMMITS = 1000
#: the variables CI systems name a pull request's target branch in
BASE_VARIABLES = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
                  "BITBUCKET_PR_DESTINATION_BRANCH", "SYSTEM_PULLREQUEST_TARGETBRANCH")


@dataclass(frozen=True)
class Lineage:
    """A trend's path through the history.

    ``branch`` is the branch under test; ``commits`` the commit under test and its
    ancestors, newest first, as far as git knows them; ``base`` the branch it was made
    from, used only when ``commits`` are cut short (a shallow clone).
    """

    branch: str | None
    commits: tuple[str, ...] = ()
    base: str | None = None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def lineage_of(
    root: Path,
    branch: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    max_commits: int = MAX_COMMITS,
) -> Lineage:
    """The lineage of the checkout at ``root`` on ``branch`` (the environment's branch)."""
    env = os.environ if environ is None else environ
    out = _git(root, "rev-list", f"--max-count={max_commits}", "HEAD")
    commits = tuple(line for line in (out or "").split() if line)
    shallow = (_git(root, "rev-parse", "--is-shallow-repository") or "").strip() == "true"
    base = None
    if shallow or not commits:
        base = next((env[name].strip() for name in BASE_VARIABLES if env.get(name, "").strip()),
                    None)
        if base is not None:
            base = base.removeprefix("refs/heads/")
    return Lineage(branch=branch, commits=commits, base=base)
