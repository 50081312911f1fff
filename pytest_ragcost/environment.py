"""The fingerprint of the machine and meters a run measured on.

Noisy metrics are only compared with baselines measured on the same fingerprint: the
same CPU model and count, the same GPUs and the same kind of energy meter. The
``comparable`` part is what ``--ragcost-update`` records in ragcost.yaml's
``environment:`` block.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .meters.registry import MeterSet

_PACKAGES = ("pytest", "pytest-ragcost", "tiktoken", "pytest-xdist", "pytest-benchmark", "ragas")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(("model name", "Model", "Hardware")) and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        out[name] = _version_of(dist)
    return out


def _version_of(dist: metadata.Distribution) -> str:
    """The ``Version:`` header of a package's metadata. Read from the header lines: the
    library parses the whole file as e-mail, long description and all, which cost a run
    about 1 ms a package."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.partition("\n\n")[0].splitlines():
        if line.startswith("Version:"):
            return line.removeprefix("Version:").strip()
    return str(dist.version)


_GIT_STATUS = ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"]
#: git gets this long to answer; a slower one (a huge repository, a hung network mount)
#: leaves the commit unknown
GIT_TIMEOUT_S = 3.0


def parse_git_status(text: str) -> dict[str, Any] | None:
    """The commit, branch and dirtiness from ``git status --porcelain=v2 --branch``;
    None before the first commit."""
    commit = ""
    branch = ""
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split(" ", 2)[2].strip()
        elif line.startswith("# branch.head "):
            branch = line.split(" ", 2)[2].strip()
        elif line and not line.startswith("#"):
            dirty = True  # a changed tracked file (untracked ones are not listed)
    if not commit or commit == "(initial)":
        return None
    if branch in ("", "(detached)"):
        # a detached checkout, as CI makes: the CI system knows the branch
        branch = os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME") or ""
    return {"commit": commit, "dirty": dirty, "branch": branch or None}


class GitProbe:
    """``git status`` of a work tree, started now and read when the commit is needed, so
    git runs while the tests do. One subprocess; no answer, no repository or no git
    gives None."""

    def __init__(self, root: Path) -> None:
        self._result: dict[str, Any] | None = None
        self._done = False
        try:
            self._proc: subprocess.Popen[str] | None = subprocess.Popen(
                # no index lock taken: a user's own git command may be waiting for it
                _GIT_STATUS, cwd=root, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True,
            )
        except (OSError, ValueError, subprocess.SubprocessError):
            self._proc = None
        self._started = time.monotonic()

    def result(self) -> dict[str, Any] | None:
        """The commit under test (``commit``, ``dirty``, ``branch``) or None."""
        if self._done or self._proc is None:
            return self._result
        self._done = True
        left = max(GIT_TIMEOUT_S - (time.monotonic() - self._started), 0.0)
        try:
            out, _ = self._proc.communicate(timeout=left)
        except (subprocess.SubprocessError, OSError):
            self.close()
            return None
        if self._proc.returncode == 0:
            self._result = parse_git_status(out)
        return self._result

    def close(self) -> None:
        """Stop git if it is still running (an interrupted run never asks for the result)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            proc.communicate(timeout=GIT_TIMEOUT_S)
        self._done = True


def git_commit(root: Path) -> dict[str, Any] | None:
    """The commit under test, if ``root`` is in a git work tree (and git answers quickly)."""
    return GitProbe(root).result()


def comparable(meters: MeterSet) -> dict[str, Any]:
    """What must match between a baseline and a run for noisy metrics to be compared."""
    energy: list[str] = []
    for meter in meters.energy:
        energy.append(f"{meter.name}:{meters.kind_of(meter)}")
    if meters.estimate is not None:
        energy.append(f"estimate:{meters.estimate.watts_per_thread:g}W/thread")
    gpus = [
        str(dev.get("name", "gpu"))
        for m in meters.energy
        if m.name == "nvml"
        for dev in m.describe().get("devices", [])
    ]
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count() or 0,
        "machine": platform.machine(),
        "gpus": gpus,
        "energy": energy,
    }


def fingerprint_id(comp: dict[str, Any]) -> str:
    blob = json.dumps(comp, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def fingerprint(meters: MeterSet, root: Path | None = None) -> dict[str, Any]:
    """The JSON ``environment`` block. Without ``root``, ``packages`` and ``git`` are left
    empty for :func:`complete_environment` to fill in when a run is written (the start of
    a run needs only the comparable part: its ``id``)."""
    comp = comparable(meters)
    return {
        "id": fingerprint_id(comp),
        "comparable": comp,
        "system": platform.system(),
        "release": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": _versions() if root is not None else {},
        "meters": meters.describe(),
        "git": git_commit(root) if root is not None else None,
    }


def complete_environment(environment: dict[str, Any], git: GitProbe | None) -> None:
    """Fill in the package versions and the commit of a :func:`fingerprint` made without
    a root."""
    environment["packages"] = _versions()
    environment["git"] = git.result() if git is not None else None
