"""The fingerprint of the machine and meters a run measured on.

Noisy metrics are only compared with baselines measured on the same fingerprint: the
same CPU model and count, the same GPUs and the same kind of energy meter. The
``comparable`` part is what ``--ragcost-update`` records in ragcost.yaml's
``environment:`` block.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
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
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(root: Path) -> dict[str, Any] | None:
    """The commit under test, if ``root`` is in a git work tree (and git answers quickly)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        )
        branch = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if branch in ("", "HEAD"):
        # a detached checkout, as CI makes: the CI system knows the branch
        branch = os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME") or ""
    return {
        "commit": head.stdout.strip(),
        "dirty": bool(dirty.stdout.strip()),
        "branch": branch or None,
    }


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


def fingerprint(meters: MeterSet, root: Path) -> dict[str, Any]:
    """The JSON ``environment`` block."""
    comp = comparable(meters)
    return {
        "id": fingerprint_id(comp),
        "comparable": comp,
        "system": platform.system(),
        "release": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": _versions(),
        "meters": meters.describe(),
        "git": git_commit(root),
    }
